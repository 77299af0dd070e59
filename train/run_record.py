"""``RunRecord``: what a run's log folder holds besides its logs, and what an interrupted run tells
the user."""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path

import torch
from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from siamkit.data.bad_images import write_csv
from siamkit.errors import unwritable_disk
from siamkit.train.checkpoint_paths import checkpoint_dir

RECORDED_PACKAGES = ("siamkit", "torch", "torchvision", "pytorch-lightning", "torchmetrics",
                     "open_clip_torch",
                     "timm", "albumentations", "numpy", "pillow", "jsonargparse")


class RunRecord(SaveConfigCallback):
    """Writes ``config.yaml`` (LightningCLI's), ``versions.json`` and ``splits.json`` (how the data
    was split, with its digest) into the run's log folder, and says how to continue a run that was
    interrupted.

    It writes when the run starts, not at set-up as LightningCLI does: set-up is where the
    module checks that loss and data go together, and a run refused there leaves nothing. Only a
    fit (a resumed one too) replaces a record already there."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.log_dir = trainer.log_dir  # a collective call: every rank must make it, not only rank 0
        self.stage = stage

    def _record(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.stage != "fit" and (Path(self.log_dir) / self.config_filename).exists():
            return  # without a log folder of its own (no logger), a validate / test / predict would
            # overwrite the record of the fit in the run folder, splits.json included, which
            # `train leaks --splits-of RUN` reads
        super().setup(trainer, pl_module, self.stage)  # once: LightningCLI's callback keeps track

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._record(trainer, pl_module)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._record(trainer, pl_module)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._record(trainer, pl_module)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._record(trainer, pl_module)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        (Path(self.log_dir) / "versions.json").write_text(json.dumps(package_versions(), indent=2) + "\n")
        if record := getattr(trainer.datamodule, "split_record", None):
            record.write(Path(self.log_dir))
        skipped = getattr(trainer.datamodule, "skipped", [])
        if skipped:  # data.on_bad_image: skip -- which images this run went without, and why
            write_csv(Path(self.log_dir) / "skipped_images.csv", skipped)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        interrupted = (isinstance(exception, (KeyboardInterrupt, SIGTERMException))
                       or trainer.received_sigterm or workers_terminated(exception))
        if interrupted and trainer.is_global_zero:
            print(f"\ninterrupted at step {trainer.global_step}: its state "
                  f"is saved in {checkpoint_dir(trainer.default_root_dir)}; "
                  "continue with the same command plus `--ckpt_path last`", file=sys.stderr)
        kept = Path(checkpoint_dir(trainer.default_root_dir))
        if (unwritable_disk(exception) and trainer.is_global_zero and self.stage == "fit"
                and (kept / "last.ckpt").exists()):
            print(f"\nthe checkpoints written whole before the disk filled are kept in {kept}: "
                  "once it has room, continue with the same command plus `--ckpt_path last`", file=sys.stderr)


def workers_terminated(error: BaseException) -> bool:
    """torch's error when SIGTERM reached the DataLoader workers before the main process noticed it
    (the group's signal arrives at every process, in no set order)."""
    text = str(error)
    return isinstance(error, RuntimeError) and "DataLoader worker" in text and "Terminated" in text


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "cuda": torch.version.cuda or "none"}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
