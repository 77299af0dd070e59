"""What every device augmentation is made of: per-image draws made on the device, choices as
``torch.where`` (so nothing reads a GPU value back), and warps by per-image affine maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def uniform(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """(B,) draws from [low, high] on the images' device."""
    return torch.empty(len(images), device=images.device).uniform_(low, high)


def where_chosen(p: float, changed: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Each image changed with probability ``p``, chosen on the device."""
    chosen = torch.rand(len(images), device=images.device) < p
    return torch.where(chosen[:, None, None, None], changed, images)


class Warp(nn.Module):
    """Images through per-image affine maps (B, 2, 3) of normalised coordinates, bilinear,
    zeros outside, to ``size`` px (their own size when None)."""

    size: int | None = None

    def warp(self, images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        size = self.size or images.shape[-1]
        grid = F.affine_grid(theta, [len(images), 3, size, size], align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
