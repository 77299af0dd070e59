"""Training callbacks configured from YAML (``trainer.callbacks``)."""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BaseFinetuning, BasePredictionWriter
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities import rank_zero_info
from torch.optim import Optimizer

from siamkit import progress
from siamkit.errors import ConfigError
from siamkit.wording import counted


class LinearProbeThenFinetune(BaseFinetuning):
    """Linear probe, then fine-tune (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained
    Features and Underperform Out-of-Distribution"): the backbone is frozen for the first
    ``unfreeze_at_epoch`` epochs, so only the head learns, then trains at the depth and
    learning rates its config gives (``trainable_blocks``, ``backbone_lr_scale``,
    ``layer_decay``).

    The backbone's parameters are in the optimizer from the start (frozen ones get no
    gradient, so it leaves them alone) and the schedule runs on unchanged, so unfreezing
    needs no new parameter group.

    Args:
        unfreeze_at_epoch: the first epoch (0-based) in which the backbone trains.
        train_bn: let batch norm layers keep updating their statistics while frozen.

    YAML::

        trainer:
          callbacks:
            - class_path: siamkit.train.callbacks.LinearProbeThenFinetune
              init_args: {unfreeze_at_epoch: 2}
    """

    def __init__(self, unfreeze_at_epoch: int = 1, train_bn: bool = False):
        super().__init__()
        if unfreeze_at_epoch < 0:
            raise ConfigError(f"unfreeze_at_epoch must be >= 0, not {unfreeze_at_epoch}")
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.train_bn = train_bn
        self.frozen = False

    def freeze_before_training(self, pl_module: pl.LightningModule) -> None:
        if self.unfreeze_at_epoch > 0:
            self.freeze(pl_module.backbone, train_bn=self.train_bn)
            self.frozen = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a fit resumed mid-epoch gets no on_train_epoch_start, where the backbone is unfrozen
        self.finetune_function(pl_module, trainer.current_epoch, trainer.optimizers[0])

    def finetune_function(self, pl_module: pl.LightningModule, epoch: int, optimizer: Optimizer) -> None:
        if self.frozen and epoch >= self.unfreeze_at_epoch:
            self.make_trainable(pl_module.backbone)  # batch norm statistics back on
            pl_module.backbone.set_trainable_blocks(pl_module.backbone.trainable_blocks)
            self.frozen = False


class TrainingSpeed(pl.Callback):
    """Logs ``train/images_per_sec`` (images through the backbone per second of training, data
    loading included and validation left out, over the last ``log_every_n_steps`` batches) and,
    on a GPU, ``train/peak_gpu_memory_gib``; when fitting ends, prints both for the whole run.

    Lightning's ThroughputMonitor synchronises the GPU after every batch, wants the model's
    FLOPs and reports no memory, hence this one."""

    def __init__(self) -> None:
        self.images, self.seconds = 0, 0.0
        self._window: deque[tuple[int, float]] = deque()
        self._tick = 0.0
        self._first_step = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.images, self.seconds = 0, 0.0
        self._window = deque(maxlen=max(1, trainer.log_every_n_steps))
        self._first_step = trainer.global_step
        self._tick = time.perf_counter()  # a run resumed mid-epoch gets no on_train_epoch_start
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._tick = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._tick = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        now = time.perf_counter()
        images, seconds = batch.image_count, now - self._tick
        self._tick = now
        self.images += images
        self.seconds += seconds
        self._window.append((images, seconds))
        # Logged as CPU tensors: self.log would copy a float to the model's device, a copy that
        # waits for the GPU to finish the step.
        window_seconds = sum(s for _, s in self._window)
        if window_seconds > 0:
            pl_module.log("train/images_per_sec",
                          torch.tensor(sum(i for i, _ in self._window) / window_seconds))
        if pl_module.device.type == "cuda":
            pl_module.log("train/peak_gpu_memory_gib", torch.tensor(peak_gpu_memory_gib(pl_module.device)))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.seconds:
            return
        memory = (f", peak GPU memory {peak_gpu_memory_gib(pl_module.device):.1f} GiB"
                  if pl_module.device.type == "cuda" else "")
        steps = trainer.global_step - self._first_step
        resumed = f" from step {self._first_step}" if self._first_step else ""
        rank_zero_info(f"trained {counted(steps, 'step')}{resumed}: {self.images / self.seconds:.0f} "
                       f"images/s (training time only, validation not counted){memory}")


class EpochLines(pl.Callback):
    """Without a progress bar (logs, CI, ``scripts/demo.sh``), one line per validation so a long
    run shows it is alive and how it is doing: epoch, step, the logged losses and scores, the
    time so far; and within long work (an epoch, a validate, test or predict over much data), a
    line of its batches every ``siamkit.progress.LOG_EVERY_S``. Silent while a progress bar is on."""

    def __init__(self) -> None:
        self._start = self._last_line = time.perf_counter()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = self._last_line = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (self._bar_or_not_first(trainer) or trainer.sanity_checking
                or trainer.state.fn != TrainerFn.FITTING):  # `train validate` prints its own table
            return
        shown = {name: float(value) for name, value in trainer.callback_metrics.items()
                 if name in ("train/loss", "val/roc_auc", "val/eer", "val/recall@1", "train/images_per_sec")}
        metrics = ", ".join(f"{name} {value:.4g}" for name, value in sorted(shown.items()))
        steps = f"/{trainer.max_steps}" if trainer.max_steps and trainer.max_steps > 0 else ""
        self._line(f"{self._epoch(trainer)}, step {trainer.global_step}{steps}: {metrics}")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._now_and_then(trainer, self._epoch(trainer), batch_idx, trainer.num_training_batches)

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                                batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if trainer.state.fn != TrainerFn.FITTING:  # a fit's validation gets its line at the end
            self._now_and_then(trainer, "validate", batch_idx, trainer.num_val_batches[dataloader_idx])

    def on_test_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        self._now_and_then(trainer, "test", batch_idx, trainer.num_test_batches[dataloader_idx])

    def on_predict_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                             batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._now_and_then(trainer, "predict", batch_idx, trainer.num_predict_batches[dataloader_idx])

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn != TrainerFn.FITTING:
            self._start = self._last_line = time.perf_counter()

    on_test_start = on_predict_start = on_validation_start

    def _now_and_then(self, trainer: pl.Trainer, what: str, batch_idx: int, batches: float) -> None:
        if self._bar_or_not_first(trainer) or time.perf_counter() - self._last_line < progress.LOG_EVERY_S:
            return
        total = f"/{batches}" if batches != float("inf") else ""
        self._line(f"{what}: batch {batch_idx + 1}{total}")

    def _line(self, text: str) -> None:
        self._last_line = time.perf_counter()
        minutes, seconds = divmod(int(self._last_line - self._start), 60)
        print(f"{text} ({minutes}:{seconds:02d} so far)", file=sys.stderr, flush=True)

    @staticmethod
    def _epoch(trainer: pl.Trainer) -> str:
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        return f"epoch {trainer.current_epoch + 1}{epochs}"

    @staticmethod
    def _bar_or_not_first(trainer: pl.Trainer) -> bool:
        return trainer.progress_bar_callback is not None or not trainer.is_global_zero


def peak_gpu_memory_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**30


class EmbeddingWriter(BasePredictionWriter):
    """``train predict`` writes what ``train embed`` writes: an index folder (embeddings.npy,
    files.txt, index.json) in ``dirpath``, searchable with ``train search``. Under DDP each
    process saves its share, and the first merges them in the data's order."""

    def __init__(self, dirpath: str = "predictions"):
        super().__init__(write_interval="epoch")
        self.dirpath = Path(dirpath)

    def write_on_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           predictions: Sequence[Any],
                           batch_indices: Optional[Sequence[Any]]) -> None:
        from siamkit.data.file_stamps import file_stamp
        from siamkit.file_writes import save_npy
        from siamkit.models.folder_checks import fingerprint
        from siamkit.retrieval.index import write_index

        self.dirpath.mkdir(parents=True, exist_ok=True)
        rank = trainer.global_rank
        embeddings = torch.cat([p.image for p in predictions]).float().cpu().numpy()
        indices = torch.cat([p.index for p in predictions]).cpu().numpy()
        save_npy(self.dirpath / f".embeddings-rank{rank}.npy", embeddings)
        save_npy(self.dirpath / f".indices-rank{rank}.npy", indices)
        trainer.strategy.barrier()
        if rank == 0:
            shares = [(np.load(self.dirpath / f".embeddings-rank{r}.npy"),
                       np.load(self.dirpath / f".indices-rank{r}.npy"))
                      for r in range(trainer.world_size)]
            everything = np.concatenate([e for e, _ in shares])
            order = np.concatenate([i for _, i in shares])
            first = np.unique(order,
                              return_index=True)[1]  # DistributedSampler repeats a few to even out shares
            paths = trainer.datamodule.predict_paths()
            root = trainer.datamodule.data.root
            files = [str(root / paths[i]) for i in order[first]]
            write_index(self.dirpath, everything[first], files, [file_stamp(f) for f in files],
                        {"encoder": str(Path(trainer.ckpt_path).resolve()) if trainer.ckpt_path else None,
                         "fingerprint": fingerprint(pl_module.encoder),
                         "dim": everything.shape[1],
                         "skipped": [bad.to_dict() for bad in trainer.datamodule.skipped]})
            for r in range(trainer.world_size):
                (self.dirpath / f".embeddings-rank{r}.npy").unlink()
                (self.dirpath / f".indices-rank{r}.npy").unlink()
            rank_zero_info(f"embedded {counted(len(files), 'image')} ({everything.shape[1]}-d) into "
                           f"{self.dirpath}: train search QUERY --index {self.dirpath}")
        trainer.strategy.barrier()

