"""``TimeBudget``: train for at most so many minutes, with the learning-rate schedule ending there."""

from __future__ import annotations

import math
import time
from typing import Any, Optional

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_info

from siamkit.errors import ConfigError
from siamkit.wording import counted


class TimeBudget(pl.Callback):
    """Fits a run into a number of minutes of wall time, validation included.

    After each epoch, the number of epochs is set to what the time left and the epochs so far say
    will fit (never more than ``trainer.max_epochs``), and the warm-up-then-cosine schedule is
    refitted so the rate still decays to zero at the last step. Stopping a schedule part-way
    (Lightning's ``max_time``) leaves the rate high at the end, which costs accuracy at a fixed
    budget (Li et al. 2020, "Budgeted Training"). So a demo takes about as long on a slow machine
    as on a fast one, doing fewer steps there; the line it prints says how many, to rerun with
    ``--trainer.max_epochs``. The budget spans the run: a checkpoint keeps the time used and
    the epochs planned, so a fit resumed from it (after Ctrl-C, or a cluster's pre-emption) gets
    the time left and goes on with the same plan and the same learning-rate schedule, where it
    would otherwise start the whole budget again, on a schedule of ``trainer.max_epochs``.

    Args:
        minutes: the budget, from the start of fitting (left out: train for trainer.max_epochs).
    """

    def __init__(self, minutes: Optional[float] = None):
        if minutes is not None and not (isinstance(minutes, (int, float)) and 0 < minutes < math.inf):
            raise ConfigError(f"time_budget.minutes must be a number of minutes > 0, not {minutes!r} "
                              "(leave it out to train for trainer.max_epochs)")
        self.minutes = minutes
        self._fit_start = self._train_start = 0.0
        self._epoch_ends: list[float] = []
        self._max_epochs = -1
        self._planned_epochs: Optional[int] = None
        self._resumed: dict[str, Any] = {}
        self._per_epoch_before: Optional[float] = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_start = time.perf_counter()
        self._epoch_ends = []
        self._max_epochs = trainer.max_epochs if trainer.max_epochs is not None else -1

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._train_start = time.perf_counter()
        if self.minutes is not None and self._resumed:  # restored with the checkpoint, by now
            self._go_on_from(trainer, pl_module, **self._resumed)
        self._resumed = {}

    def _go_on_from(self, trainer: pl.Trainer, pl_module: pl.LightningModule, seconds: float,
                    epochs: Optional[int], per_epoch: Optional[float] = None) -> None:
        self._fit_start -= seconds
        self._per_epoch_before = per_epoch  # this fit's first epoch may be the rest of one
        done, note = trainer.current_epoch, f"{seconds / 60:.1f} min used before this fit"
        if epochs is not None and done >= epochs and per_epoch:  # its plan was done: plan anew
            more = max(0, math.floor((self.minutes * 60 - seconds) / per_epoch))
            epochs = min(trainer.max_epochs, done + more)
            if epochs == done:
                note += (f", and its {counted(done, 'epoch')} trained: no time is left for another (raise "
                         "--time_budget.minutes to train on)")
        if epochs is None or epochs >= trainer.max_epochs:  # no plan, or the trainer's own length
            rank_zero_info(f"time budget of {self.minutes:g} min: {note}")
            return
        trainer.fit_loop.max_epochs = self._planned_epochs = epochs
        if epochs > done:
            note += (f"; it goes on with a plan of {counted(epochs, 'epoch')}, the learning rate reaching "
                     f"zero at step {pl_module.refit_schedule()}")
        rank_zero_info(f"time budget of {self.minutes:g} min: {note}")

    def state_dict(self) -> dict[str, Any]:
        if self.minutes is None:
            return {}
        return {"seconds": time.perf_counter() - self._fit_start, "epochs": self._planned_epochs,
                "per_epoch": self._per_epoch() if self._epoch_ends else self._per_epoch_before}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resumed = dict(state_dict)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.minutes is None:
            return
        now = time.perf_counter()
        self._epoch_ends.append(now)
        epochs = trainer.strategy.broadcast(self._epochs_that_fit(trainer.current_epoch + 1, now))
        if trainer.max_epochs <= epochs <= trainer.max_epochs + 1:
            return  # one epoch more is not worth a new schedule: the estimate flickers by one from
            # epoch to epoch, and each change would reshape the learning rate and print a line
        trainer.fit_loop.max_epochs = self._planned_epochs = epochs  # every process stops at rank 0's
        last_step = pl_module.refit_schedule()
        rank_zero_info(f"time budget of {self.minutes:g} min: room for {counted(epochs, 'epoch')} at "
                       f"{self._per_epoch():.1f} s each; the learning rate now reaches zero at step "
                       f"{last_step} (--trainer.max_epochs {epochs} trains as long without a budget)")

    def _epochs_that_fit(self, done: int, now: float) -> int:
        left = self.minutes * 60 - (now - self._fit_start)
        epochs = done + max(0, math.floor(left / self._per_epoch()))
        return min(epochs, self._max_epochs) if self._max_epochs > 0 else epochs

    def _per_epoch(self) -> float:
        """Seconds an epoch takes, validation at its end included. The first one also starts the
        workers and picks kernels, so it is left out once there are others; a resumed fit takes
        the interrupted one's figure until then."""
        ends = self._epoch_ends
        if len(ends) == 1:
            return self._per_epoch_before or ends[0] - self._train_start
        return (ends[-1] - ends[0]) / (len(ends) - 1)
