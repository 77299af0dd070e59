from __future__ import annotations

import contextlib
import logging
import time

import pytest
import pytorch_lightning as pl
import torch

from siamkit.cli.program import main
from siamkit.data.batches import ClassBatch, PairBatch
from siamkit.data.datamodule import SiameseDataModule
from siamkit.models import ContrastiveLoss, TorchvisionBackbone
from siamkit.train.callbacks import LinearProbeThenFinetune, TrainingSpeed
from siamkit.train.module import SiameseModule
from tests.helpers import TINY


class Snapshots(pl.Callback):
    """The backbone's and head's weights at the end of every training epoch."""

    def __init__(self):
        self.backbone, self.head = [], []

    def on_train_epoch_end(self, trainer, pl_module):
        self.backbone.append(pl_module.backbone.net.conv1.weight.detach().clone())
        self.head.append(pl_module.head.layers.weight.detach().clone())


def fit(class_folder, callbacks, trainable_blocks=None, weights=None, init_from=None, epochs=3):
    torch.manual_seed(0)
    backbone = TorchvisionBackbone("resnet18", weights=weights, image_size=16, small_input=True,
                                   trainable_blocks=trainable_blocks)
    model = SiameseModule(backbone, ContrastiveLoss(), init_from=init_from)
    data = SiameseDataModule(str(class_folder), batch_size=16, m_per_class=4, num_workers=0,
                             image_config=backbone.image_config)
    initial = backbone.net.conv1.weight.detach().clone()
    trainer = pl.Trainer(accelerator="cpu", max_epochs=epochs, limit_train_batches=2, limit_val_batches=0,
                         logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=callbacks)
    trainer.fit(model, data)
    return initial, model


def test_backbone_frozen_for_the_probe_epochs_then_trained(class_folder):
    snapshots = Snapshots()
    initial, model = fit(class_folder, [LinearProbeThenFinetune(unfreeze_at_epoch=2), snapshots])
    assert torch.equal(snapshots.backbone[0], initial) and torch.equal(snapshots.backbone[1], initial)
    assert not torch.equal(snapshots.backbone[2], initial)  # unfrozen in epoch 2
    assert not torch.equal(snapshots.head[0], snapshots.head[1])  # the head learned all along
    bn = model.backbone.net.bn1
    assert bn.track_running_stats and bn.weight.requires_grad


class BackboneTrains(pl.Callback):
    """Whether the backbone trains in each training batch, (epoch, batch index, requires_grad);
    Ctrl-C before batch ``interrupt_at`` of the fit."""

    def __init__(self, interrupt_at=None):
        self.batches, self.interrupt_at = [], interrupt_at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.interrupt_at:
            raise KeyboardInterrupt
        trains = pl_module.backbone.net.conv1.weight.requires_grad
        self.batches.append((trainer.current_epoch, batch_idx, trains))


@pytest.mark.filterwarnings("ignore:.*called without a model", "ignore:.*there is no last checkpoint",
                            "ignore:You're resuming from a checkpoint that ended before the epoch ended")
def test_a_fit_resumed_in_the_middle_of_a_fine_tuning_epoch_trains_the_backbone(class_folder, tmp_path):
    """Resumed mid-epoch from on_exception.ckpt, Lightning calls no on_train_epoch_start, where the
    backbone is unfrozen: it stayed frozen for the rest of that epoch."""
    def fit(ckpt_path=None, interrupt_at=None):
        watch = BackboneTrains(interrupt_at)
        trainer = pl.Trainer(accelerator="cpu", max_epochs=2, limit_train_batches=2, limit_val_batches=0,
                             logger=False, enable_progress_bar=False, enable_model_summary=False,
                             default_root_dir=tmp_path,
                             callbacks=[LinearProbeThenFinetune(unfreeze_at_epoch=1), watch,
                                        pl.callbacks.OnExceptionCheckpoint(tmp_path)])
        backbone = TorchvisionBackbone("resnet18", image_size=16, small_input=True)
        data = SiameseDataModule(str(class_folder), batch_size=8, m_per_class=2, num_workers=0,
                                 image_config=backbone.image_config)
        with contextlib.suppress(SystemExit):  # how Lightning ends a Ctrl-C
            trainer.fit(SiameseModule(backbone, ContrastiveLoss()), data, ckpt_path=ckpt_path,
                        weights_only=True)
        return watch.batches

    # 2 batches an epoch: Ctrl-C one batch into epoch 1, the first that trains the backbone
    assert fit(interrupt_at=3) == [(0, 0, False), (0, 1, False), (1, 0, True)]
    assert fit(tmp_path / "on_exception.ckpt") == [(1, 1, True)], "the rest of epoch 1 trains the backbone"


def test_unfreezing_restores_the_configured_depth(class_folder):
    _, model = fit(class_folder, [LinearProbeThenFinetune(unfreeze_at_epoch=1)], trainable_blocks=1)
    assert all(p.requires_grad for p in model.backbone.net.layer4.parameters())
    assert not any(p.requires_grad for p in model.backbone.net.layer1.parameters())


FROZEN_RANDOM = "the backbone starts from random weights"


@pytest.mark.parametrize("callbacks, trainable_blocks, frozen", [
    ([LinearProbeThenFinetune(unfreeze_at_epoch=1)], None, "60 of its 60 weight tensors are frozen"),
    ([], 1, "45 of its 60 weight tensors are frozen"),
])
def test_a_frozen_backbone_of_random_weights_is_warned_of(class_folder, caplog, callbacks, trainable_blocks,
                                                           frozen):
    with caplog.at_level(logging.WARNING):
        fit(class_folder, callbacks, trainable_blocks, epochs=1)  # said as the fit starts
    assert FROZEN_RANDOM in caplog.text and frozen in caplog.text


def test_no_warning_where_the_frozen_backbone_was_trained_before_or_none_is_frozen(class_folder, caplog,
                                                                                tmp_path):
    weights = tmp_path / "r18.pt"
    torch.save(TorchvisionBackbone("resnet18", small_input=True).net.state_dict(), weights)
    with caplog.at_level(logging.WARNING):
        _, trained = fit(class_folder, [LinearProbeThenFinetune(unfreeze_at_epoch=0)], epochs=1)  # unfrozen
        trained.encoder.save(tmp_path / "encoder")
        fit(class_folder, [LinearProbeThenFinetune(unfreeze_at_epoch=1)], weights=str(weights), epochs=1)
        fit(class_folder, [LinearProbeThenFinetune(unfreeze_at_epoch=1)], init_from=str(tmp_path / "encoder"),
            epochs=1)
    assert FROZEN_RANDOM not in caplog.text


def test_training_speed_counts_every_image_and_reports_the_run(class_folder, caplog):
    speed = TrainingSpeed()
    started = time.perf_counter()
    with caplog.at_level(logging.INFO):
        _, model = fit(class_folder, [speed])
    steps = model.trainer.global_step
    assert steps >= 3 and speed.images == steps * 16
    assert 0 < speed.seconds < time.perf_counter() - started  # training only: set-up and validation left out
    assert f"trained {steps} steps: {speed.images / speed.seconds:.0f} images/s" in caplog.text


def test_a_pair_is_two_images():
    images, ids = torch.zeros(5, 3, 8, 8), torch.arange(5)
    assert PairBatch(images, images, torch.ones(5), ids, ids).image_count == 10
    assert ClassBatch(torch.zeros(7, 3, 8, 8), torch.zeros(7)).image_count == 7


def test_without_a_progress_bar_each_epoch_says_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2",
                 "--trainer.limit_val_batches", "1"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2, step 2", "epoch 2/2, step 4"]
    assert all("val/roc_auc" in line and "train/loss" in line and "so far)" in line for line in lines)



def test_a_run_bounded_by_steps_says_its_steps_not_a_negative_epoch_count(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", *TINY, "--trainer.max_epochs", "-1", "--trainer.max_steps", "2",
                 "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1, step 2/2"]
