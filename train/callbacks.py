"""Training callbacks configured from YAML (``trainer.callbacks``)."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import BaseFinetuning
from torch.optim import Optimizer

from siamkit.errors import ConfigError


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

    def finetune_function(self, pl_module: pl.LightningModule, epoch: int, optimizer: Optimizer) -> None:
        if self.frozen and epoch >= self.unfreeze_at_epoch:
            self.make_trainable(pl_module.backbone)  # batch norm statistics back on
            pl_module.backbone.set_trainable_blocks(pl_module.backbone.trainable_blocks)
            self.frozen = False
