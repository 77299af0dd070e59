"""Reading what an encoder needs out of a ``train fit`` checkpoint, without Lightning and
without running code from the file (torch's restricted ``weights_only`` unpickler)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from siamkit.data.splits import SplitRecord
from siamkit.errors import ConfigError
from siamkit.models.card import EncoderFolderError
from siamkit.models.spec import EncoderSpec, ModuleSpec

#: the checkpoint key under which ``SiameseModule`` records its ``EncoderSpec``
ENCODER_SPEC_KEY = "siamkit_encoder_spec"
#: the checkpoint key under which a run started from an earlier model (``model.init_from``) records
#: that model's start, ``{"spec": ModuleSpec dict or None}``: its own backbone's arguments do not say it
START_KEY = "siamkit_initialised_from"
#: where the module keeps its Encoder's weights; checkpoints written before it held an Encoder
#: (siamkit up to 2026-12-03) have them at the top level, as ``backbone.`` and ``head.``
ENCODER_PREFIX = "encoder."
_LEGACY_PREFIXES = ("backbone.", "head.")


@dataclass
class TrainingCheckpoint:
    encoder_spec: dict[str, Any]
    encoder_state: dict[str, torch.Tensor]  # the backbone's and head's weights, as the Encoder names them
    splits: SplitRecord | None  # None when the checkpoint does not say what it was trained on
    val_data: str | None  # the run's data.val_data: what its validation (and best checkpoint) used
    global_step: int | None
    best_scores: dict[str, float]  # {"best val/roc_auc": value}
    start: dict[str, Any] | None = None  # what START_KEY holds; None where the backbone's arguments say it


def read_checkpoint(path: Path) -> TrainingCheckpoint:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, not a torch file, or objects beyond tensors and plain values
        raise EncoderFolderError(
            f"cannot read checkpoint {path} safely ({type(error).__name__}): it is truncated, not a siamkit "
            "training checkpoint, or holds objects other than tensors and plain values"
        ) from None
    if not isinstance(checkpoint,
                      dict) or ENCODER_SPEC_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise EncoderFolderError(f"{path} is not a siamkit checkpoint: it lacks the encoder's architecture "
                                 "(was it written by `train fit`?)")
    module_state = with_encoder_prefix(checkpoint["state_dict"])
    state = {key.removeprefix(ENCODER_PREFIX): tensor for key, tensor in module_state.items()
             if key.startswith(ENCODER_PREFIX)}
    return TrainingCheckpoint(checkpoint[ENCODER_SPEC_KEY], state,
                              _splits(checkpoint),
                              checkpoint.get("datamodule_hyper_parameters", {}).get("val_data"),
                              checkpoint.get("global_step"), _best_scores(checkpoint.get("callbacks", {})),
                              checkpoint.get(START_KEY))


def recorded_start(record: Any, where: str) -> ModuleSpec | None:
    """The start a ``START_KEY`` record names, checked before anything is built; None: from scratch."""
    spec = record.get("spec") if isinstance(record, dict) else record
    return None if spec is None else ModuleSpec.from_dict(spec, f"{where}: initialised_from")


def _splits(checkpoint: dict[str, Any]) -> SplitRecord | None:
    """The DataModule's record of its splits; checkpoints written before it kept one give the
    split settings of their data hyper-parameters, without a digest."""
    recorded = checkpoint.get("SiameseDataModule", {}).get("splits")
    if recorded:
        return SplitRecord.from_dict(recorded)
    data = checkpoint.get("datamodule_hyper_parameters", {})
    if not data.get("source"):
        return None
    return SplitRecord.from_dict({"source": data["source"], "root": data.get("root"),
                                  "kind": data.get("kind", "auto"), "fractions": data.get("split_fractions"),
                                  "seed": data.get("split_seed")})


def with_encoder_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A module state dict in today's layout, whichever layout it was written in."""
    return {(ENCODER_PREFIX + k if k.startswith(_LEGACY_PREFIXES) else k): v for k, v in state.items()}


def best_checkpoint_in(checkpoints: Path) -> Path | None:
    """The newest ``best-*.ckpt`` that ModelCheckpoint kept in a run's checkpoints folder."""
    best = sorted(checkpoints.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    return best[-1] if best else None


_SAID_LAST_IS_USED: set[Path] = set()


def run_checkpoint(run: Path) -> Path:
    """A run folder's best checkpoint (by its monitored metric), else its last one."""
    best = best_checkpoint_in(run / "checkpoints")
    if best:
        return best
    if (run / "checkpoints" / "last.ckpt").exists():
        if run.resolve() not in _SAID_LAST_IS_USED:  # once, though a command may load a run twice (@start)
            _SAID_LAST_IS_USED.add(run.resolve())
            print(f"note: run folder {run} has no best checkpoint (it did not validate, or its metric was "
                  "undefined), so its last.ckpt is used", file=sys.stderr)
        return run / "checkpoints" / "last.ckpt"
    raise EncoderFolderError(f"run folder {run} has no checkpoints yet "
                             "(expected checkpoints/best-*.ckpt or last.ckpt)")


def refuse_checkpoint_folder(path: Path, what: str) -> None:
    """A run's ``checkpoints/`` given where its run folder or one of its files is meant."""
    if path.is_dir() and any(path.glob("*.ckpt")):
        raise EncoderFolderError(f"{what} {path} is a folder of checkpoints: pass its run folder "
                                 f"{path.parent} (for its best checkpoint) or one .ckpt file in it")


def _best_scores(callbacks: dict[str, Any]) -> dict[str, float]:
    """``{"best val/roc_auc": value}`` from the checkpoint's ModelCheckpoint states."""
    scores = {}
    for state in callbacks.values():
        if isinstance(state, dict) and state.get("monitor") and state.get("best_model_score") is not None:
            scores[f"best {state['monitor']}"] = float(state["best_model_score"])
    return scores


def refuse_another_architecture(encoder: Any, architecture: dict[str, Any] | None, what: str,
                                fix: str) -> None:
    """For weights that do not fit ``encoder``: what differs between ``what``'s architecture and
    the encoder's, where both can be described (else the weights' names, raised after, say it)."""
    try:
        ours = EncoderSpec.of(encoder.backbone, encoder.head).to_dict()
    except ConfigError:
        return
    if differences := architecture_differences(architecture, ours) if architecture else []:
        raise ConfigError(f"{what} was trained with another architecture than this config builds "
                          f"({'; '.join(differences[:4])}): {fix}") from None


#: where a backbone's initial weights come from: no part of its architecture, and replaced by the file's
WEIGHT_SOURCES = ("backbone.pretrained", "backbone.weights")


def architecture_differences(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Where two ``EncoderSpec`` dicts differ, one ``key: A in the config, B in the file`` each; a
    part of another class differs by its class alone."""
    flat_theirs, flat_ours = _flatten(theirs), _flatten(ours)
    differing = [key for key in sorted(set(flat_theirs) | set(flat_ours))
                 if flat_theirs.get(key) != flat_ours.get(key) and key not in WEIGHT_SOURCES]
    other_classes = {key.removesuffix("class_path") for key in differing if key.endswith(".class_path")}
    return [f"{key}: {flat_ours.get(key)!r} in the config, {flat_theirs.get(key)!r} in the file"
            for key in differing
            if key.endswith(".class_path") or not any(key.startswith(part) for part in other_classes)]


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}".replace("init_args.", "")
        flat.update(_flatten(value, f"{name}.") if isinstance(value, dict) else {name: value})
    return flat
