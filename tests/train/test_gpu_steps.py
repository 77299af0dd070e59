"""On a CUDA GPU (skipped without one): training steps between logging steps never wait for the GPU.

One wait per step (an ``.item()`` of a GPU tensor, a float copied to the GPU) keeps the CPU
from queueing the next step while the GPU works: it cost a fifth of a ViT-B-16 bf16 step on
an H100."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from siamkit.data.batches import ClassBatch
from siamkit.models import ContrastiveLoss, TorchvisionBackbone
from siamkit.train.callbacks import TrainingSpeed
from siamkit.train.module import SiameseModule

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

EVERY = 5


class NoWaitsBetweenLogs(pl.Callback):
    """From the start of each batch that is neither a logging step nor the one before it to the
    start of the next batch, any operation that waits for the GPU raises."""

    def __init__(self):
        self.quiet_batches = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        quiet = batch_idx % EVERY not in (0, EVERY - 1)
        self.quiet_batches += quiet
        torch.cuda.set_sync_debug_mode("error" if quiet else "default")

    def on_train_end(self, trainer, pl_module):
        torch.cuda.set_sync_debug_mode("default")


def class_batches(count: int, size: int = 16) -> DataLoader:
    images = torch.randint(0, 256, (count * size, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(count * size) % 4
    return DataLoader(TensorDataset(images, labels), batch_size=size,
                      collate_fn=lambda rows: ClassBatch(torch.stack([i for i, _ in rows]),
                                                         torch.stack([label for _, label in rows])))


def test_steps_between_logging_steps_do_not_wait_for_the_gpu(tmp_path):
    watch = NoWaitsBetweenLogs()
    trainer = pl.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed", max_steps=2 * EVERY,
                         log_every_n_steps=EVERY, logger=pl.loggers.CSVLogger(tmp_path),
                         enable_checkpointing=False, callbacks=[TrainingSpeed(), watch])
    model = SiameseModule(TorchvisionBackbone("resnet18", image_size=32, small_input=True), ContrastiveLoss())
    try:
        trainer.fit(model, train_dataloaders=class_batches(2 * EVERY))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert watch.quiet_batches == 6
    assert {"loss", "train/images_per_sec",
            "train/peak_gpu_memory_gib"} <= set(trainer.progress_bar_metrics) | set(
        trainer.logged_metrics)


def test_augmenting_on_the_gpu_waits_for_it_neither(tmp_path):
    from siamkit.data.datamodule import SiameseDataModule
    from siamkit.models import InfoNCELoss

    watch = NoWaitsBetweenLogs()
    backbone = TorchvisionBackbone("resnet18", image_size=32, small_input=True)
    data = SiameseDataModule("demo:photographs", image_config=backbone.image_config, batch_size=16,
                             num_workers=0, crops_per_image=16, augment="copy_detection", augment_on="device",
                             check_leaks="off")
    trainer = pl.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed", max_steps=2 * EVERY,
                         log_every_n_steps=EVERY, logger=False, enable_checkpointing=False,
                         limit_val_batches=0, callbacks=[watch])
    try:
        trainer.fit(SiameseModule(backbone, InfoNCELoss()), datamodule=data)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert watch.quiet_batches == 6


def test_the_device_augmentations_give_the_same_images_on_the_gpu():
    import albumentations as A

    from siamkit.data.device_augmentation import DeviceAugmentation

    images = torch.randint(0, 256, (4, 3, 48, 48), dtype=torch.uint8)
    for transform in (A.HorizontalFlip(p=1), A.ToGray(p=1), A.ImageCompression(quality_range=(30, 30), p=1),
                      A.GaussianBlur(blur_limit=(5, 5), sigma_limit=(1, 1), p=1)):
        augment = DeviceAugmentation([transform], 48)
        on_cpu, on_gpu = augment(images), augment.cuda()(images.cuda()).cpu()
        assert (on_cpu.int() - on_gpu.int()).abs().max() <= 1, type(transform).__name__
