"""The optimiser's parameter groups and the learning-rate schedule of ``SiameseModule``."""

from __future__ import annotations

import math
from typing import Any, Callable

from torch import nn


def parameter_groups(module: nn.Module, backbone: nn.Module, backbone_lr_scale: float,
                     layer_decay: float) -> list[dict[str, Any]]:
    """Head and loss at ``lr_scale`` 1; backbone layer groups at ``backbone_lr_scale *
    layer_decay**depth_from_top``; one-dimensional parameters (norms, biases, scales)
    without weight decay."""
    scales: dict[nn.Parameter, float] = {}
    for depth, block in enumerate(reversed(backbone.blocks())):
        for parameter in block.parameters():
            scales.setdefault(parameter, backbone_lr_scale * layer_decay ** depth)
    for parameter in backbone.parameters():  # anything outside the listed groups
        scales.setdefault(parameter, backbone_lr_scale)
    # what the backbone's unlock depth trains, even while a schedule (LinearProbeThenFinetune)
    # has it frozen: frozen parameters get no gradient, so the optimizer leaves them alone
    trainable = set(backbone.trainable_parameters())
    in_backbone = set(backbone.parameters())
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for parameter in module.parameters():
        if parameter not in trainable if parameter in in_backbone else not parameter.requires_grad:
            continue
        key = (scales.get(parameter, 1.0), parameter.ndim <= 1)
        groups.setdefault(key, []).append(parameter)
    return [
        {"params": params, "lr_scale": scale, **({"weight_decay": 0.0} if no_decay else {})}
        for (scale, no_decay), params in sorted(groups.items(), key=lambda item: item[0])
    ]


def warmup_then_cosine(warmup: int, total: int) -> Callable[[int], float]:
    """The learning-rate factor of a step: linear warm-up over ``warmup`` steps, then a cosine
    decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor
