"""LightningCLI for ``fit / validate / test / predict``.

Every run gets, whatever its config says: ``speed`` (TrainingSpeed: images/s and peak GPU
memory, logged and printed at the end); a ``checkpoint`` (BestCheckpoint: best by
``val/roc_auc``, none while it is undefined), a ``last_checkpoint`` (LastCheckpoint:
``last.ckpt``, the weights at each validation and as training ends) and an ``on_exception``
checkpoint (written when the run is interrupted by Ctrl-C or SIGTERM, or fails), all in
``DEFAULT_ROOT_DIR/checkpoints``, so ``--ckpt_path last`` resumes from whichever is newer; the
fastest precision the hardware runs the backbone in natively when the config sets none
(``precision.native_precision``); and a copy of the resolved config plus the package versions
in the run's log folder.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

from lightning_fabric.utilities.seed import max_seed_value, min_seed_value
from pytorch_lightning import Trainer
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.trainer.states import TrainerStatus
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.exceptions import SIGTERMException

from siamkit.data.datamodule import SiameseDataModule
from siamkit.errors import ConfigError
from siamkit.folders import HeldPath
from siamkit.train.callbacks import EmbeddingWriter, EpochLines, TrainingSpeed
from siamkit.train.checkpoint_callbacks import (
    BestCheckpoint,
    InterruptionCheckpoint,
    LastCheckpoint,
    QuietWorkerDeaths,
)
from siamkit.train.checkpoint_io import stream_local_checkpoints
from siamkit.train.checkpoint_paths import (
    CKPT_KEYWORDS,
    announce_resume,
    best_checkpoint,
    check_checkpoint_file,
    check_model_as_built,
    checkpoint_dir,
    refuse_a_finished_run,
    refuse_to_overwrite,
)
from siamkit.train.config_files import PATH_SETTINGS, check_paths_from_here, read_config
from siamkit.train.loggers import end_wandb_runs, recorded_run_loggers, run_loggers
from siamkit.train.module import SiameseModule
from siamkit.train.parser_errors import brief_error, not_made
from siamkit.train.precision import native_precision
from siamkit.train.run_lock import hold_run_folder
from siamkit.train.run_record import RunRecord, workers_terminated
from siamkit.train.startup_notes import StartupNotes
from siamkit.train.time_budget import TimeBudget
from siamkit.train.trainer_annotations import integers_before_floats
from siamkit.train.trainer_settings import check_trainer_settings, lines_off_a_terminal, will_use_cuda


class _BriefErrorsParser(LightningArgumentParser):
    """A bad option or value is one line, as in siamkit's other commands: no usage synopsis or
    tip before it, and a value that fits none of an option's types said as one line of what fits."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        message = brief_error(message, _keys(self))
        if not self.exit_on_error:  # jsonargparse raises the error here, for its caller to handle
            super().error(message, ex)
        # a command's own parser, or the program's, which parses the one command asked for
        commands = [name for action in self._actions if isinstance(action.choices, dict)
                    for name in action.choices]
        command = commands[0] if commands else self.prog.split()[-1]
        self.exit(2, f"error: {message} (see `train {command} --help`)\n")


def _keys(parser: LightningArgumentParser) -> list[str]:
    """Every key the parser and its subcommands' parsers take, to say which one was meant."""
    keys = []
    for action in parser._actions:
        keys.append(action.dest)
        if isinstance(action.choices, dict):  # a subcommand's parsers
            keys += [key for sub in action.choices.values() if isinstance(sub, LightningArgumentParser)
                     for key in _keys(sub)]
    return keys


class SiamkitCLI(LightningCLI):
    def __init__(self, *args, command: str | None = None, held: list[HeldPath] | None = None, **kwargs):
        self._command = command  # the one subcommand to parse: parsers for all four took 0.6 s more
        # the lock on a fit's run folder, which the caller releases; a plain list, as the
        # model's optimizer callable reaches this object and an EMA of the weights deep-copies it
        self._held = held if held is not None else []
        self.startup_notes = StartupNotes()
        with self.startup_notes.holding():  # LightningCLI runs the command within
            super().__init__(*args, **kwargs)

    def subcommands(self) -> dict[str, set[str]]:
        every = LightningCLI.subcommands()
        return {self._command: every[self._command]} if self._command else every

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(BestCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.monitor": "val/roc_auc", "checkpoint.mode": "max",
                             "checkpoint.filename": "best-{epoch}-{step}"})
        # Lightning 2.6's save_last copies only a new best (a resume from it loses the epochs since):
        # last.ckpt comes from a second ModelCheckpoint, with no monitor, at each validation and at the end
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.set_defaults({"last_checkpoint.filename": "last",
                             "last_checkpoint.enable_version_counter": False})
        parser.add_lightning_class_args(InterruptionCheckpoint, "on_exception")
        parser.add_lightning_class_args(EmbeddingWriter, "predictions")
        parser.add_lightning_class_args(TrainingSpeed, "speed")
        parser.add_lightning_class_args(EpochLines, "epoch_lines")
        parser.add_lightning_class_args(TimeBudget, "time_budget")
        for target in ("checkpoint.dirpath", "last_checkpoint.dirpath", "on_exception.dirpath"):
            parser.link_arguments("trainer.default_root_dir", target, compute_fn=checkpoint_dir)
        parser.link_arguments("trainer.default_root_dir", "predictions.dirpath", compute_fn=_predictions_dir)
        parser.link_arguments("model.image_config", "data.image_config", apply_on="instantiate")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        seed = (self.config[subcommand] if subcommand else self.config).get("seed_everything")
        if isinstance(seed, int) and not min_seed_value <= seed <= max_seed_value:  # true / false pass
            raise ConfigError(f"seed_everything must be a whole number from {min_seed_value} to "
                              f"{max_seed_value}, true (a random one) or false, not {seed}")

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as error:  # jsonargparse's, for a class that raised as it was made
            if brief := not_made(str(error)):
                raise ConfigError(brief) from None
            raise

    def instantiate_trainer(self, **kwargs) -> Trainer:
        """A config without ``trainer.precision`` gets the machine's fastest for this backbone, also
        in the run's config.yaml."""
        trainer = (self.config[self.subcommand] if self.subcommand else self.config).trainer
        if trainer.precision is None:
            trainer.precision = native_precision(will_use_cuda(trainer.accelerator), self.model.backbone)
        try:
            instance = super().instantiate_trainer(**kwargs, precision=trainer.precision)
        except (ValueError, TypeError) as error:  # how Lightning refuses a trainer setting, beside
            # MisconfigurationException: `--trainer.devices -2`, `--trainer.strategy nope` ...
            raise ConfigError(f"trainer: {' '.join(str(error).split())}") from None
        stream_local_checkpoints(instance.strategy)
        self.quiet_worker_deaths = QuietWorkerDeaths()
        instance.callbacks.insert(0, self.quiet_worker_deaths)  # first of the on-exception hooks
        instance.callbacks.insert(1, self.startup_notes)  # before the model summary
        return instance

    def _run_subcommand(self, subcommand: str) -> None:
        # Lightning ends a Ctrl-C with exit code 1, and a SIGTERM to the process group (a cluster's
        # pre-emption, `timeout`) can reach the DataLoader workers first, whose death then looks
        # like a failure: both are interruptions (exit 130 / 143; RunRecord printed how to resume)
        succeeded = False
        try:
            super()._run_subcommand(subcommand)
            succeeded = True
            if subcommand in ("validate", "test"):  # after Lightning's table of figures
                rank_zero_info(self.model.scored_as("val" if subcommand == "validate" else "test"))
        except SystemExit as exit:
            if exit.code == 1 and self.trainer.state.status == TrainerStatus.INTERRUPTED:
                raise KeyboardInterrupt from None
            raise
        except Exception as error:
            if self.trainer.received_sigterm or workers_terminated(error):
                raise SystemExit(128 + signal.SIGTERM) from None
            raise
        finally:
            self.quiet_worker_deaths.restore()
            end_wandb_runs(self.trainer.loggers, succeeded)

    def _parse_ckpt_path(self) -> None:
        # Lightning would parse the checkpoint's hyper-parameters into the run's config here, so a
        # checkpoint someone handed over could name any class_path to build. The config says what
        # to build; a checkpoint only brings weights and loop state, read with weights_only.
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path not in CKPT_KEYWORDS:
            check_checkpoint_file(Path(path))

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        if "weights_only" in config:
            if config.weights_only is False:
                raise ConfigError("--weights_only false would let a checkpoint run code when loaded; siamkit "
                                  "reads checkpoints as tensors and plain values only (leave it out)")
            config.weights_only = True
        if config.get("ckpt_path") and config.model.get("init_from"):
            # the checkpoint brings the weights, and the start that init_from gave its run: the
            # earlier model need not be read again, nor be where it was
            config.model.init_from = None
        check_paths_from_here({key: config.get(key) for key in PATH_SETTINGS}, config.get("config") or [])
        trainer = config.trainer
        if trainer.logger is None or trainer.logger is True or recorded_run_loggers(trainer.logger):
            trainer.logger = run_loggers(trainer.default_root_dir or ".")
        check_trainer_settings(trainer)
        lines_off_a_terminal(trainer)
        run_folder = Path(trainer.default_root_dir or ".")
        if self.subcommand == "fit" and (held := hold_run_folder(run_folder)) is not None:
            self._held.append(held)
        if config.get("ckpt_path") == "best":
            config.ckpt_path = best_checkpoint(self.subcommand,
                                               Path(checkpoint_dir(trainer.default_root_dir)))
        if self.subcommand == "fit" and config.ckpt_path is None:
            refuse_to_overwrite(Path(checkpoint_dir(trainer.default_root_dir)))
        if self.subcommand == "fit" and config.ckpt_path not in CKPT_KEYWORDS:
            refuse_a_finished_run(Path(config.ckpt_path), trainer.max_epochs, trainer.max_steps)
        if self.subcommand == "fit" and config.ckpt_path == "last":
            announce_resume(Path(checkpoint_dir(trainer.default_root_dir)), trainer.max_epochs,
                            trainer.max_steps)
            warnings.filterwarnings("ignore", message=RESUMED_FOLDER_NOTE)  # a resume writes there
            warnings.filterwarnings("ignore", message=PART_WAY_NOTE)  # announce_resume says it
        if self.subcommand != "fit":  # the checkpoint of a run since moved or copied: its list of
            # best checkpoints is a fit's bookkeeping, which these commands do not keep
            warnings.filterwarnings("ignore", message=MOVED_RUN_NOTE)
        if (self.subcommand in ("validate", "test", "predict") and config.ckpt_path is None
                and not config.model.get("init_from")):
            check_model_as_built(self.subcommand, Path(checkpoint_dir(trainer.default_root_dir)))


#: With an OnExceptionCheckpoint configured, Lightning treats every fit without --ckpt_path as
#: an implicit "resume from last" and says so; siamkit never resumes implicitly (see
#: refuse_to_overwrite), so those notes would only mislead. (Lightning's texts, checked by
#: tests/test_internals.py.)
MISLEADING_NOTES = (r".*fit\(ckpt_path=None\)` was called without a model",
                    r'.*fit\(ckpt_path="last"\) is set, but there is no last checkpoint')
#: Lightning's warning at every resume, as at a fit into a used folder (which siamkit refuses).
RESUMED_FOLDER_NOTE = r"Checkpoint directory .* exists and is not empty"
#: And at a resume part-way through an epoch, which announce_resume words for siamkit's loaders.
PART_WAY_NOTE = r"You're resuming from a checkpoint that ended before the epoch ended"
#: At validate / test / predict on the checkpoint of a run since moved or copied.
MOVED_RUN_NOTE = r"The dirpath has changed from"
#: Notes no user can act on: Lightning's own use of a pytree API that torch deprecated (every
#: fit); a warning that an EMA of the weights cannot shard layers made in configure_model, where
#: siamkit only sets the memory format and compiles; that the model summary's size in MB counts
#: 32 bits a weight under mixed precision (every mixed-precision fit, on a GPU always).
UNACTIONABLE_NOTES = (r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                      r"You.re using the WeightAveraging callback with a model that overrides",
                      r"Precision .* is not supported by the model summary")
#: Lightning's lines of the same kind, logged: its advertisement for its cloud logger; that it loads
#: the training data early to count the steps that the learning-rate schedule spans (every fit);
#: that it uses the plain model summary lines_off_a_terminal asks for (every fit to a log).
UNACTIONABLE_LINES = ("💡 Tip:", "Loading `train_dataloader` to estimate number of stepping batches",
                      "Trainer already configured with model summary callbacks")


def _worth_showing(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(UNACTIONABLE_LINES)


def _predictions_dir(root: str | None) -> str:
    return str(Path(root or ".") / "predictions")


def resolve_config_arguments(args: list[str]) -> list[str]:
    """``--config NAME.yaml`` names a bundled config when no such file exists where the user stands;
    each config file is checked to be YAML sections before LightningCLI reads it."""
    resolved = list(args)
    for i, arg in enumerate(resolved):
        if arg in ("--config", "-c") and i + 1 < len(resolved):
            resolved[i + 1] = read_config(resolved[i + 1])[0]
        elif arg.startswith("--config="):
            resolved[i] = "--config=" + read_config(arg.split("=", 1)[1])[0]
    return resolved


def run_trainer_command(command: str, args: list[str]) -> LightningCLI:
    # LightningCLI parses sys.argv; DDP re-launches worker processes with it too, so it
    # carries the resolved config paths.
    given = sys.argv
    sys.argv = [sys.argv[0], command, *resolve_config_arguments(args)]
    no_abbreviations = {"allow_abbrev": False}  # a mistyped --trainer.max_epoch must not pass as max_epochs
    lightning_notes = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    lightning_notes.addFilter(_worth_showing)
    integers_before_floats(Trainer.__init__)  # so --trainer.limit_train_batches 1 is one batch, not 100%
    # When Ctrl-C or SIGTERM reaches the process group, a DataLoader worker's death is reported by
    # torch's SIGCHLD handler raising wherever the main process is; inside a log line being written
    # (Lightning logs "Received SIGTERM"), logging would print that error with the whole call stack.
    # Python's documented setting for production: errors inside logging are dropped (the loader
    # itself still notices a worker that died).
    raise_logging_errors, logging.raiseExceptions = logging.raiseExceptions, False
    held: list[HeldPath] = []
    try:
        with warnings.catch_warnings():
            for note in MISLEADING_NOTES + UNACTIONABLE_NOTES:
                warnings.filterwarnings("ignore", message=note)
            return SiamkitCLI(
                SiameseModule,
                SiameseDataModule,
                save_config_callback=RunRecord,
                save_config_kwargs={"overwrite": True},
                parser_class=_BriefErrorsParser,
                auto_configure_optimizers=False,  # the optimizer is model.optimizer; one way to set it
                parser_kwargs={"allow_abbrev": False, command: no_abbreviations},
                command=command,
                held=held,
            )
    except SIGTERMException:
        raise SystemExit(128 + signal.SIGTERM) from None  # Lightning's own exit code would be 0
    finally:
        for run_folder in held:
            run_folder.release()
        sys.argv = given
        lightning_notes.removeFilter(_worth_showing)
        logging.raiseExceptions = raise_logging_errors
