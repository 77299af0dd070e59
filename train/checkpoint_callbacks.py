"""The on-exception checkpoint every run gets (``last.ckpt`` and the best checkpoint are
Lightning's ModelCheckpoint, configured in ``lightning_cli``)."""

from __future__ import annotations

import signal
import threading

from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.callbacks import OnExceptionCheckpoint


class InterruptionCheckpoint(OnExceptionCheckpoint):
    """Lightning's on-exception checkpoint, skipped when no training step has run yet: a run
    that fails in set-up (bad data, say) has no work to keep, and its checkpoint would only
    make the corrected re-run look like it overwrites an earlier one."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if trainer.global_step == 0:
            return
        # torch's DataLoader raises from its SIGCHLD handler when a worker dies, as workers do
        # when Ctrl-C or SIGTERM reaches the process group: that must not cut this save short.
        # A worker that dies late can still raise before the handler is swapped: save again.
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGCHLD) if in_main_thread else None
        try:
            for attempt in range(2):
                try:
                    if in_main_thread:
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    super().on_exception(trainer, pl_module, exception)
                    return
                except RuntimeError as error:
                    if attempt or "DataLoader worker" not in str(error):
                        raise
        finally:
            if in_main_thread:
                signal.signal(signal.SIGCHLD, previous)
