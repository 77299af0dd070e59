"""SiameseModule: the LightningModule that trains a backbone + head with a Siamese loss."""

from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Optional

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities import rank_zero_info
from torch import nn

from siamkit.data.batches import Batch, ClassBatch, ImageBatch, PairBatch
from siamkit.data.sources import PairSet
from siamkit.data.splits import SplitRecord
from siamkit.errors import ConfigError, SiamkitError
from siamkit.internals import is_compile_error
from siamkit.models.backbones import Backbone, check_backbone
from siamkit.models.checkpoints import (
    ENCODER_SPEC_KEY,
    START_KEY,
    recorded_start,
    refuse_another_architecture,
    with_encoder_prefix,
)
from siamkit.models.encoder import Encoder
from siamkit.models.heads import ProjectionHead
from siamkit.models.losses import SiameseLoss, check_loss_accepts
from siamkit.models.spec import EncoderSpec, ModuleSpec
from siamkit.models.weights import check_weights_fit, load_matching
from siamkit.train.optimization import parameter_groups, warmup_then_cosine
from siamkit.train.pair_metrics import PairMetrics, recall_at_1

OptimizerCallable = Callable[[Iterable], torch.optim.Optimizer]
HeadCallable = Callable[[int], nn.Module]
STAGES = ("val", "test")
log = logging.getLogger(__name__)


def _adamw(params: Iterable) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)


class SiameseModule(pl.LightningModule):
    """An ``Encoder`` (normalisation -> backbone -> projection head -> L2-normalised embedding)
    trained with ``loss``. The encoder is the object ``train export`` writes and ``Encoder.load``
    reads: checkpoints hold its weights under ``encoder.``.

    Args:
        backbone: the image encoder, ``(B, 3, S, S) -> (B, D)``.
        loss: a ``SiameseLoss``; it must accept the data's training batch type.
        head: called with D to build the head, ``(B, D) -> (B, E)``; default a linear
            ``ProjectionHead`` to 128; None for no head (the backbone's features, L2-normalised,
            as an ``Encoder`` without a head gives them).
        optimizer: called with parameter groups (default AdamW, lr 1e-3, weight decay 0.05).
            Norms, biases and the loss's temperature get no weight decay.
        backbone_lr_scale: backbone learning rate = optimizer lr x this (the head gets lr).
        layer_decay: layer-wise learning-rate decay: the k-th layer group from the top of
            the backbone gets ``backbone_lr_scale * layer_decay**k`` (1.0 = off).
        warmup_steps: linear warm-up steps, then cosine decay to zero at the last step.
        channels_last: NHWC memory format (faster convolutions on recent GPUs).
        compile: ``torch.compile`` the backbone.
        init_from: start from an earlier model's backbone and head weights: a run folder, a
            ``.ckpt`` or an encoder folder of the same architecture (the optimizer starts afresh).

    Checkpoints record the ``EncoderSpec`` of backbone and head (however the module was
    built: from YAML or in Python), which is what ``train export`` rebuilds the encoder from.

    Logs ``train/loss``; for pairs ``{val,test}/roc_auc`` and ``/eer`` on the pair scores;
    for class-labelled data also ``/recall@1`` (nearest neighbour of each image among the
    others has its class), with ROC-AUC / EER over all pairs of the split's images.
    """

    def __init__(
        self,
        backbone: Backbone,
        loss: SiameseLoss,
        head: Optional[HeadCallable] = ProjectionHead,
        optimizer: OptimizerCallable = _adamw,
        backbone_lr_scale: float = 1.0,
        layer_decay: float = 1.0,
        warmup_steps: int = 0,
        channels_last: bool = False,
        compile: bool = False,
        init_from: Optional[str] = None,
    ):
        super().__init__()
        if warmup_steps < 0:
            raise ConfigError(f"model.warmup_steps must be a whole number >= 0, not {warmup_steps}")
        if not (backbone_lr_scale >= 0 and 0 < layer_decay <= 1):
            raise ConfigError(f"model.backbone_lr_scale must be >= 0 and model.layer_decay in (0, 1] "
                              f"(1: off), not {backbone_lr_scale} and {layer_decay}")
        # the injected parts are not hyper-parameters: their weights are in the state dict, the
        # encoder's architecture in the checkpoint's EncoderSpec, and a checkpoint stays loadable
        # with torch's restricted unpickler however they were built
        self.save_hyperparameters(ignore=["backbone", "loss", "head", "optimizer"], logger=False)
        check_backbone(backbone, training=True)  # before the head is built on its feature_dim
        self.encoder = Encoder(backbone, head(backbone.feature_dim) if head is not None else None).train()
        self.loss = loss
        self.optimizer = optimizer
        self._earlier_start: Optional[dict[str, Any]] = None  # START_KEY's record, for a checkpoint
        self._init_trained_on: Optional[tuple[str, SplitRecord]] = None  # init_from's name and its data
        if init_from:
            self._initialise_from(init_from)
        self.metrics = nn.ModuleDict({stage: PairMetrics(stage) for stage in STAGES})
        self._class_embeddings: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._compiled = False  # whether the compiled backbone has trained a step (compile errors come first)
        if not compile:  # the model summary's shapes and FLOPs, from one image (compiling for it would cost)
            size = self.image_config.size
            self.example_input_array = torch.zeros(1, 3, size, size, dtype=torch.uint8)

    @property
    def backbone(self) -> nn.Module:
        return self.encoder.backbone

    @property
    def head(self) -> Optional[nn.Module]:
        return self.encoder.head

    @property
    def image_config(self):
        return self.backbone.image_config

    def configure_model(self) -> None:
        if self.hparams.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
            self.encoder.memory_format = torch.channels_last
        if self.hparams.compile:
            self.backbone.compile()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) uint8 images (as the data pipeline gives them) -> (B, E) float32 unit vectors."""
        if not self.hparams.compile or self._compiled:
            return self.encoder(images)
        try:  # the first calls compile: for inference, and for training (with the backward pass)
            embeddings = self.encoder(images)
        except Exception as error:
            if not is_compile_error(error):
                raise
            first_line = (str(error).strip().splitlines() or [""])[0][:200]
            backbone = type(self.backbone).__name__
            raise ConfigError(f"model.compile: torch.compile cannot compile {backbone} here "
                              f"({type(error).__name__}: {first_line}); set model.compile false") from None
        self._compiled = self.training and torch.is_grad_enabled()
        return embeddings

    def _initialise_from(self, source: str) -> None:
        fix = "init_from needs a model of this backbone: a run folder, a .ckpt, or an encoder folder"
        try:
            start = Encoder.load(source)
        except SiamkitError as error:
            raise ConfigError(f"model.init_from: {error} ({fix})") from None
        # an export of the backbone's features has no head: its backbone starts this run, and the
        # config's head starts anew, as it does on pretrained weights (and a head this config has
        # none of is left out)
        whole = (start.head is None) == (self.head is None)
        try:
            if whole:
                load_matching(self.encoder, start.state_dict(), source)
            else:
                load_matching(self.backbone, start.backbone.state_dict(), source)
        except ConfigError as error:
            # which output was exported, and at which sizes, is no part of the weights
            theirs = {**start.card.architecture.to_dict(), "scales": [1.0], "mid_level": False}
            compared = self.encoder if whole else SimpleNamespace(backbone=self.backbone, head=start.head)
            refuse_another_architecture(compared, theirs, f"model.init_from {source}", fix)
            raise ConfigError(f"model.init_from: {error} ({fix})") from None
        if not whole:
            head = ("it has no projection head (an export of the backbone's features), so the config's head "
                    "starts anew" if start.head is None else "its head is left out: this config has none")
            rank_zero_info(f"note: model.init_from {source}: its backbone's weights start this run; {head}")
        spec = start.card.initialised_from
        self._take_start({"spec": spec.to_dict() if spec else None}, f"model.init_from {source}")
        self._init_trained_on = (source, start.card.trained_on) if start.card.trained_on else None

    def _take_start(self, record: dict[str, Any], where: str) -> None:
        """An earlier model's start is this run's too, whatever this config's backbone names: its
        pretrained weights (if any) were replaced, and a backbone without them was not trained from
        scratch. A resumed run keeps it, ``init_from`` given again or not."""
        self.encoder.card.initialised_from = recorded_start(record, where)
        self._earlier_start = record

    def prepare_data(self) -> None:
        # here, not in setup: Lightning starts the loggers (a log folder, a W&B run) between the
        # two, and a run refused for its data should leave nothing behind
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.trainer.state.fn == TrainerFn.FITTING and hasattr(datamodule, "train_batch_type"):
            check_loss_accepts(self.loss, datamodule.train_batch_type, datamodule.kind)
            self.loss.check_batch_size(datamodule.hparams.batch_size, self.trainer.world_size)
            datamodule.check_fit_splits(validates=self.trainer.limit_val_batches != 0)
            if isinstance(data := datamodule.data, PairSet):
                self.loss.check_pair_labels(data.label[data.split == "train"], datamodule.hparams.source)
            if self._init_trained_on and hasattr(datamodule, "check_earlier_training"):
                datamodule.check_earlier_training(self._init_trained_on[1], self._init_trained_on[0])
        if hasattr(datamodule, "check_leaks_once"):  # the slowest check, last
            datamodule.check_leaks_once()

    def on_fit_start(self) -> None:
        # after the callbacks' setup, where LinearProbeThenFinetune freezes the backbone; a resumed
        # run was told at its start
        if self.trainer.ckpt_path is None and self._starts_random():
            frozen = sum(not parameter.requires_grad for parameter in self.backbone.parameters())
            if frozen:
                log.warning(
                    f"the backbone starts from random weights (no pretrained weights named), and {frozen} of "
                    f"its {len(list(self.backbone.parameters()))} weight tensors are frozen at the start "
                    "(trainable_blocks, or LinearProbeThenFinetune's first epochs), so they stay random "
                    "while frozen: name pretrained weights, or train it whole (leave trainable_blocks "
                    "out; LinearProbeThenFinetune with unfreeze_at_epoch 0, or none)")

    def _starts_random(self) -> bool:
        """Whether the backbone's weights are random: pretrained ones not named, no earlier model's."""
        try:
            spec = ModuleSpec.of(self.backbone)
        except ConfigError:  # a backbone that cannot be rebuilt does not say what it starts from
            return False
        return spec.from_scratch and self._earlier_start is None

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["state_dict"] = with_encoder_prefix(checkpoint.get("state_dict", {}))
        # Lightning would end a checkpoint of another architecture in a dump of every key
        try:
            check_weights_fit(self, checkpoint["state_dict"], "the --ckpt_path checkpoint")
        except ConfigError:
            refuse_another_architecture(self.encoder, checkpoint.get(ENCODER_SPEC_KEY),
                                        "the --ckpt_path checkpoint", "give the config of its run (a copy "
                                        "is logs/version_N/config.yaml in its run folder)")
            raise
        if START_KEY in checkpoint:
            self._take_start(checkpoint[START_KEY], "the --ckpt_path checkpoint")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        try:
            spec = EncoderSpec.of(self.backbone, self.head)
        except ConfigError:
            pass  # a backbone or head that cannot be rebuilt: `train export` says so, training goes on
        else:  # a weights file named from the folder `train fit` ran in: found from any other folder too
            absolute = dataclasses.replace(spec, backbone=spec.backbone.with_weight_files_absolute())
            checkpoint[ENCODER_SPEC_KEY] = absolute.to_dict()
        if self._earlier_start is not None:
            checkpoint[START_KEY] = self._earlier_start

    def compute_loss(self, batch: Batch) -> torch.Tensor:
        """The objective on the batch's embeddings, in float32 as the head gives them, also under
        mixed precision: autocast would round the similarity matrix to bf16, whose 8 significant
        bits put cosines near 1 on a 0.004 grid, 0.4 in the logits at CLIP's scale of 100."""
        embedded = batch.map_images(self)
        with torch.autocast(self.device.type, enabled=False):
            return self.loss(embedded)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self.compute_loss(batch)
        size = len(batch)
        self.log("train/loss", loss, batch_size=size)
        if batch_idx % max(1, self.trainer.log_every_n_steps) == 0:
            # Lightning reads every progress-bar value with .item() after every batch: a GPU
            # tensor there would stall the GPU once a step (a fifth of a ViT-B-16 step on an
            # H100). A CPU copy every log_every_n_steps batches costs one wait per interval
            # (every batch when logging is off: the bar is then the only view of the loss).
            self.log("loss", loss.detach().cpu(), prog_bar=True, logger=False, batch_size=size)
        return loss

    def validation_step(self, batch: PairBatch | ClassBatch, batch_idx: int) -> None:
        self._evaluation_step("val", batch)

    def test_step(self, batch: PairBatch | ClassBatch, batch_idx: int) -> None:
        self._evaluation_step("test", batch)

    def predict_step(self, batch: ImageBatch, batch_idx: int) -> ImageBatch:
        return batch.map_images(self)

    def _evaluation_step(self, stage: str, batch: PairBatch | ClassBatch) -> None:
        embedded = batch.map_images(self)
        if isinstance(embedded, ClassBatch):
            self._class_embeddings.append((embedded.image, embedded.label))
            return
        self.metrics[stage].update((embedded.a * embedded.b).sum(-1), embedded.label)
        if type(embedded) in self.loss.accepts:
            self.log(f"{stage}/loss", self.loss(embedded), batch_size=len(embedded), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def scored_as(self, stage: str) -> str:
        """What ``train validate`` / ``test`` figures score, which need not be what ``train export``
        writes."""
        head = self.encoder.head is not None
        output = "its projection head's output" if head else "its backbone's features"
        size = self.encoder.image_config.size
        return (f"{stage}/ figures score the model as it trained: {output} at {size} px. An export "
                "can keep another output, WiSE-FT weight or sizes (--choose-on-val): `train evaluate "
                "--methods ENCODER` scores the exported encoder, beside the classical methods and its start")

    def _log_epoch_metrics(self, stage: str) -> None:
        if self._class_embeddings:
            embeddings = torch.cat([e for e, _ in self._class_embeddings])
            labels = torch.cat([label for _, label in self._class_embeddings])
            self._class_embeddings.clear()
            embeddings, labels = self._gathered(embeddings), self._gathered(labels)
            # scores of all i < j pairs read off the similarity matrix: (P,) floats, not (P, E) copies
            i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
            similarity = embeddings @ embeddings.T
            self.metrics[stage].update(similarity[i, j], labels[i] == labels[j])
            self.log(f"{stage}/recall@1", recall_at_1(embeddings, labels), prog_bar=stage == "val")
        # the sanity check's few batches say nothing of the whole split
        values = self.metrics[stage].compute(say_when_undefined=not self.trainer.sanity_checking)
        for name, value in values.items():
            self.log(f"{stage}/{name}", value, prog_bar=stage == "val" and name == "roc_auc")

    def _gathered(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.trainer.world_size == 1:
            return tensor
        return self.all_gather(tensor).flatten(0, 1)

    def configure_optimizers(self) -> dict[str, Any]:
        try:
            optimizer = self.optimizer(self.parameter_groups())
        except ValueError as error:  # torch's own checks: "Invalid learning rate: -1.0"
            raise ConfigError(f"model.optimizer: {error}") from None
        for group in optimizer.param_groups:
            group["lr"] *= group.pop("lr_scale")
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._schedule())
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def refit_schedule(self) -> int:
        """Refits the schedule to the trainer's length, which a time budget changed; returns its
        last step."""
        scheduler = self.trainer.lr_scheduler_configs[0].scheduler
        scheduler.lr_lambdas = [self._schedule()] * len(scheduler.lr_lambdas)
        return self.trainer.estimated_stepping_batches

    def _schedule(self) -> Callable[[int], float]:
        total = max(1, self.trainer.estimated_stepping_batches)
        return warmup_then_cosine(self.hparams.warmup_steps, total)

    def parameter_groups(self) -> list[dict[str, Any]]:
        return parameter_groups(self, self.backbone, self.hparams.backbone_lr_scale, self.hparams.layer_decay)
