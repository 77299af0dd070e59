"""The checkpoints every run gets (Lightning's ModelCheckpoint, configured in ``lightning_cli``):
``last.ckpt``, the best by a validation metric, and one on an exception, and what keeps that
one whole."""

from __future__ import annotations

import signal
import threading
import warnings
from typing import Optional

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint, OnExceptionCheckpoint
from pytorch_lightning.utilities.rank_zero import rank_zero_info

from siamkit.errors import unwritable_disk


class _SiamkitCheckpoint(ModelCheckpoint):
    @property
    def state_key(self) -> str:  # ModelCheckpoint's, so that runs from before these classes resume theirs
        return "ModelCheckpoint" + super().state_key.removeprefix(type(self).__qualname__)


class LastCheckpoint(_SiamkitCheckpoint):
    """``last.ckpt``: Lightning's checkpoint without a monitor, written at each validation (or
    epoch end), and also as training ends when neither came after the last steps. Lightning
    then writes none, and the steps were lost: with validation every second epoch
    (``check_val_every_n_epoch: 2``) the odd last epoch; with validation within epochs, a run
    that stops (``max_steps``) between two."""

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if not self._should_skip_saving_checkpoint(trainer):  # skipped where the last step is saved
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))


class BestCheckpoint(_SiamkitCheckpoint):
    """Lightning's best-by-a-metric checkpoint, which keeps none for an undefined (NaN) value.

    Lightning ranks NaN below every number but still keeps the first such epoch while fewer
    than ``save_top_k`` are kept, and then never replaces it while the metric stays undefined
    (ROC-AUC on val pairs of one kind): a run folder's export would take that epoch's weights.
    Without a best, it takes ``last.ckpt``."""

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        with warnings.catch_warnings():  # a run that has not validated: said at its end, in words
            warnings.filterwarnings("ignore", message=r"`ModelCheckpoint\(monitor=.*could not find the")
            super().on_train_epoch_end(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if self.monitor and self.monitor not in trainer.callback_metrics:
            rank_zero_info(f"note: the run did not validate, so it has no best checkpoint by {self.monitor}; "
                           "last.ckpt holds its weights")

    def check_monitor_top_k(self, trainer: Trainer, current: Optional[torch.Tensor] = None) -> bool:
        if current is not None and torch.isnan(current):
            return False
        return super().check_monitor_top_k(trainer, current)


class InterruptionCheckpoint(OnExceptionCheckpoint):
    """Lightning's on-exception checkpoint, skipped when no training step has run yet: a run
    that fails in set-up (bad data, say) has no work to keep, and its checkpoint would only
    make the corrected re-run look like it overwrites an earlier one."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if trainer.global_step > 0:
            # The whole state, to resume from; said outright, as Lightning otherwise logs that
            # `weights_only` defaulted to False, which reads like a checkpoint loaded unsafely.
            try:
                trainer.save_checkpoint(self.ckpt_path, weights_only=False)
            except Exception as error:
                # a full disk that failed the run fails this too: the run's own error says so, and
                # an error raised here would skip Lightning's tear-down (the process's SIGTERM
                # handler stayed Lightning's, and a pool forked later never closed)
                if not unwritable_disk(error):
                    raise


class QuietWorkerDeaths(Callback):
    """Once a run is failing or interrupted, a DataLoader worker's death is no news.

    torch raises from its SIGCHLD handler when a worker dies, as the train and val loaders'
    persistent workers do, each at its own moment, when Ctrl-C or SIGTERM reaches the process
    group. Raised inside Lightning's on-exception hooks, that error ends the loop over the
    callbacks before the checkpoint callbacks (always last) keep the work. This callback goes
    first: it sets SIGCHLD back to the default until ``restore`` (the CLI's, when the run ends)."""

    def __init__(self) -> None:
        self._previous = None

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if threading.current_thread() is threading.main_thread() and self._previous is None:
            self._previous = signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGCHLD, self._previous)
            self._previous = None
