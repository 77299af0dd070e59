"""Lightning's notes from setting a run up (the seed, which devices), held until the run starts.

A command refused before its run starts (data not found, a setting that does not fit) then
prints its one error line alone, not after "Seed set to 0", "GPU available: False" and "TPU
available"; a run that starts prints them first, in their order, as Lightning would.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

import pytorch_lightning as pl

HELD_LOGGERS = ("lightning_fabric.utilities.seed", "pytorch_lightning.utilities.rank_zero")


class StartupNotes(pl.Callback):
    def __init__(self):
        self.held: list[logging.LogRecord] = []

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Holds the notes within; those not released by then are dropped."""
        for name in HELD_LOGGERS:
            logging.getLogger(name).addFilter(self._hold)
        try:
            yield
        finally:
            self._stop()
            self.held.clear()

    def release(self) -> None:
        self._stop()
        for record in self.held:
            logging.getLogger(record.name).handle(record)
        self.held.clear()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.release()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.release()

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.release()

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.release()

    def _hold(self, record: logging.LogRecord) -> bool:
        self.held.append(record)
        return False

    def _stop(self) -> None:
        for name in HELD_LOGGERS:
            logging.getLogger(name).removeFilter(self._hold)
