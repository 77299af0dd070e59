"""Global pooling of CNN feature maps."""

from __future__ import annotations

import torch
from torch import nn

from siamkit.errors import ConfigError

POOLINGS = ("avg", "gem")


class GeM(nn.Module):
    """Generalised-mean pooling (Radenović, Tolias, Chum 2018, "Fine-tuning CNN Image Retrieval
    with No Human Annotation"), as SSCD uses it: ``(mean(x^p))^(1/p)`` over each channel's
    positions, with a learnable ``p``. p = 1 is average pooling; large p tends to max pooling.

    Shapes: (B, C, H, W) non-negative feature maps (after a ReLU) -> (B, C).
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)))
        self.eps = eps

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.ndim != 4:
            raise ConfigError(f"GeM pooling takes (B, C, H, W) feature maps, not a {features.ndim}-d tensor "
                              "(a transformer's tokens?); use pooling: avg")
        p = self.p.clamp(min=1.0)
        return features.clamp(min=self.eps).pow(p).mean(dim=(-2, -1)).pow(1.0 / p)


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling {pooling!r}: choose {' or '.join(POOLINGS)}")
