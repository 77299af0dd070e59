"""The loggers every run gets unless ``trainer.logger`` names others."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from jsonargparse import Namespace
from pytorch_lightning.loggers import Logger, WandbLogger


class QuietWandbLogger(WandbLogger):
    """Lightning's WandbLogger without what no user can act on. wandb 0.31 warns at every run that
    ``anonymous``, which Lightning always hands ``wandb.init``, has no effect; it looks for the
    code's git repository from ``save_dir``, warning "git root ... does not exist" at a run's first
    start, when nothing has made that folder yet; and it ends every run with about twenty lines of
    history and summary, the figures siamkit's own lines and ``metrics.csv`` already gave. Its quiet
    setting keeps the lines that say where the run is saved and how to sync it (``settings``
    given, or ``WANDB_QUIET`` set, say otherwise)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self._wandb_init.get("anonymous") is None:
            del self._wandb_init["anonymous"]
        # a config that names this logger in full (a run's recorded config.yaml) gives settings: null
        if self._wandb_init.get("settings") is None and "WANDB_QUIET" not in os.environ:
            import wandb

            self._wandb_init["settings"] = wandb.Settings(quiet=True)

    @property
    def experiment(self) -> Any:
        # made when the run starts, not before: a command refused earlier leaves no folder behind
        if self._experiment is None and self._save_dir:
            Path(self._save_dir).mkdir(parents=True, exist_ok=True)
        return super().experiment


def run_loggers(root: str) -> list[Namespace]:
    """The loggers of a run: ``metrics.csv`` (CSVLogger) in ROOT/logs/version_N, and W&B,
    offline, in ROOT/wandb. They follow ``trainer.default_root_dir``, so a run's files stay in
    one folder."""
    return [
        Namespace(class_path="pytorch_lightning.loggers.CSVLogger",
                  init_args=Namespace(save_dir=root, name="logs")),
        Namespace(class_path="siamkit.train.loggers.QuietWandbLogger",
                  init_args=Namespace(save_dir=root, name=Path(root).resolve().name, project="siamkit",
                                      offline=True)),
    ]


def recorded_run_loggers(logger: Any) -> bool:
    """Whether ``trainer.logger`` names the loggers ``run_loggers`` gives, as a run's config.yaml
    records them: then they are the loggers of that run's folder, which a run reusing its config
    must not write into."""
    if not isinstance(logger, list) or len(logger) != 2:
        return False
    made = run_loggers("")
    paths = [getattr(entry, "class_path", None) for entry in logger]
    csv, wandb = (getattr(entry, "init_args", None) for entry in logger)
    return (paths == [entry.class_path for entry in made] and getattr(csv, "name", None) == "logs"
            and getattr(csv, "save_dir", None) == getattr(wandb, "save_dir", None))


def end_wandb_runs(loggers: Iterable[Logger], succeeded: bool) -> None:
    """Ends the W&B runs a command's loggers started. Lightning leaves them open, and its next
    WandbLogger in the same process (a notebook, a script calling two commands) would log into
    the first one's run."""
    for logger in loggers:
        # the private attribute: the public one would start a run just to end it
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger._experiment.finish(exit_code=0 if succeeded else 1)
