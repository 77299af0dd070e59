"""Which checkpoint a trainer command starts from: ``--ckpt_path last`` (the newer of last.ckpt
and on_exception.ckpt), ``best``, or a file checked before Lightning reads it; and the refusal
to start a new run over an earlier run's checkpoints, or to test, validate or predict with the
config's model as built when the run has checkpoints."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import torch

from siamkit.errors import ConfigError
from siamkit.models.checkpoints import best_checkpoint_in
from siamkit.wording import counted


def checkpoint_dir(root: str | None) -> str:
    """Where a run whose ``trainer.default_root_dir`` is ``root`` keeps its checkpoints."""
    return str(Path(root or ".") / "checkpoints")


def announce_resume(checkpoints: Path, max_epochs: int | None, max_steps: int | None) -> None:
    """``--ckpt_path last`` continues from the newer of last.ckpt and on_exception.ckpt; with
    neither, Lightning would quietly start from scratch, and from a run that already reached the
    trainer's length it would load the model, train nothing and say only that it stopped."""
    candidates = [checkpoints / name for name in ("last.ckpt",
                                                  "on_exception.ckpt") if (checkpoints / name).is_file()]
    if not candidates:
        raise ConfigError(f"--ckpt_path last: {checkpoints} holds no last.ckpt or "
                          "on_exception.ckpt to resume from. Check --trainer.default_root_dir, "
                          "or leave --ckpt_path out to start a new run.")
    newest = max(candidates, key=lambda p: p.stat().st_mtime)
    _check_whole(newest, "last")
    checkpoint = torch.load(newest, map_location="cpu", weights_only=True, mmap=True)
    refuse_a_finished_run(newest, max_epochs, max_steps, "last", checkpoint)
    print(f"resuming from {newest} {_where_it_stopped(checkpoint)}", file=sys.stderr)


def refuse_a_finished_run(path: Path, max_epochs: int | None, max_steps: int | None,
                          given: str | None = None, checkpoint: dict | None = None) -> None:
    """A fit from a checkpoint that already reached the trainer's length would load the model,
    train nothing and say only that it stopped (Lightning's own test of a finished fit: steps done
    against max_steps, epochs processed against max_epochs)."""
    if checkpoint is None:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    steps = checkpoint.get("global_step", 0)
    try:
        epochs = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    except (KeyError, TypeError):
        epochs = 0
    name = f"--ckpt_path {given}: {path}" if given else f"--ckpt_path {path}"
    more = ("raise --trainer.{setting} to train on from it (the learning-rate schedule then spans the "
            f"new length), or start a new run from its weights with --model.init_from {path} and another "
            "--trainer.default_root_dir")
    if max_steps is not None and 0 < max_steps <= steps:
        raise ConfigError(f"{name} already trained {steps} steps, --trainer.max_steps {max_steps}: nothing "
                          "is left to train; " + more.format(setting="max_steps"))
    if max_epochs is not None and 0 < max_epochs <= epochs:
        raise ConfigError(f"{name} already trained {counted(epochs, 'epoch')}, --trainer.max_epochs "
                          f"{max_epochs}: nothing is left to train; " + more.format(setting="max_epochs"))


def _where_it_stopped(checkpoint: dict) -> str:
    """The checkpoint's step, and for one written part-way through an epoch (Ctrl-C, SIGTERM, a
    periodic one) how far into it: the loader cannot skip the batches already trained on, so the
    rest of that epoch draws anew, as every epoch does. Said here in place of Lightning's warning
    of "unreliable results"."""
    step = checkpoint.get("global_step", "unknown")
    try:
        batches = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]
        done, part_way = batches["current"]["completed"], not batches["is_last_batch"]
    except (KeyError, TypeError):  # no record of Lightning's loops: no position within an epoch
        done, part_way = 0, False
    if not (part_way and done):
        return f"(step {step})"
    return (f"(step {step}), {counted(done, 'batch', 'batches')} into epoch {checkpoint['epoch'] + 1}: its "
            "remaining batches are drawn anew from the data, as each epoch's are")


def best_checkpoint(subcommand: str, checkpoints: Path) -> str:
    """``--ckpt_path best``: the run's best checkpoint file (each command is a new process, so
    Lightning's own "best of this trainer" never exists); a fit resumes from ``last`` instead."""
    if subcommand == "fit":
        raise ConfigError("--ckpt_path best: a fit continues from where it stopped, `--ckpt_path last`; "
                          "to start from the best weights of a run, use --model.init_from RUN_FOLDER")
    best = best_checkpoint_in(checkpoints)
    if best is None:
        raise ConfigError(f"--ckpt_path best: {checkpoints} holds no best-*.ckpt (the run monitored no "
                          "metric, or has not validated yet); pass a checkpoint file, or `last`")
    _check_whole(best, "best")
    return str(best)


def _check_whole(path: Path, keyword: str) -> None:
    """The checkpoint ``--ckpt_path KEYWORD`` chose, checked as a named one is: copied over half-way,
    or replaced, it is refused, naming the run's latest whole checkpoint to pass instead."""
    if _is_whole(path):
        return
    others = [p for p in path.parent.glob("*.ckpt") if p != path and _is_whole(p)]
    latest = max(others, key=lambda p: p.stat().st_mtime, default=None)
    instead = f"; the run's latest whole checkpoint: --ckpt_path {latest}" if latest else ""
    raise ConfigError(f"--ckpt_path {keyword}: {path} is not a whole checkpoint written by `train fit` "
                      f"(truncated, or another kind of file){instead}")


def _is_whole(path: Path) -> bool:
    try:
        check_checkpoint_file(path)
    except ConfigError:
        return False
    return True


CKPT_KEYWORDS = (None, "last", "best", "hpc", "registry")


def check_checkpoint_file(path: Path) -> None:
    """A checkpoint that is missing, truncated or not a torch file, refused before anything runs
    (torch writes zip archives; a truncated one has lost its central directory)."""
    if path.is_dir():
        raise ConfigError(f"--ckpt_path {path} is a folder: pass a .ckpt file (a run keeps them in <run "
                          "folder>/checkpoints/), or best / last for this run's own")
    if not path.is_file():
        raise ConfigError(f"--ckpt_path {path}: no such file (checkpoints are in <run folder>/checkpoints/)")
    not_one = ConfigError(f"--ckpt_path {path}: not a checkpoint written by `train fit` (truncated, or "
                          "another kind of file)")
    if not zipfile.is_zipfile(path):
        raise not_one
    try:  # memory-mapped: reads the archive's index, not the tensors
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # a zip that is not torch's, or objects beyond tensors and plain values
        raise not_one from None
    if not (isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict)):
        raise not_one


def refuse_to_overwrite(checkpoints: Path) -> None:
    """Lightning would silently resume from (or overwrite) an earlier run's checkpoints here."""
    if checkpoints.is_dir() and any(checkpoints.glob("*.ckpt")):
        raise ConfigError(
            f"{checkpoints} already holds checkpoints of an earlier run. Resume "
            "it with `--ckpt_path last`, or start a new run elsewhere with "
            "`--trainer.default_root_dir runs/NEW_NAME` (or delete that folder)."
        )


def check_model_as_built(command: str, checkpoints: Path) -> None:
    """validate / test / predict without --ckpt_path use the config's model as built (pretrained
    weights where it names them, untrained otherwise): refused where the run folder holds
    checkpoints, the ones the user meant; said where it holds none."""
    if checkpoints.is_dir() and any(checkpoints.glob("*.ckpt")):
        raise ConfigError(f"train {command} without --ckpt_path would use the config's model as built, "
                          f"not the run in {checkpoints}: pass --ckpt_path best, last or a checkpoint file")
    print(f"note: train {command} without --ckpt_path uses the config's model as built (its pretrained "
          "weights where it names them, else untrained ones)", file=sys.stderr)
