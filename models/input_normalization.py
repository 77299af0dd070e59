"""The model's first step: uint8 images on the 0-255 scale -> normalised float32."""

from __future__ import annotations

import torch

from siamkit.data.image_config import ImageConfig


class InputNormalization(torch.nn.Module):
    """(B, 3, S, S) uint8 (or float on the 0-255 scale) -> float32 ``(x / 255 - mean) / std``.

    Its constants are not in the state dict, so checkpoints and exported weights are the
    backbone's and head's alone."""

    def __init__(self, config: ImageConfig):
        super().__init__()
        mean, std = torch.tensor(config.mean) * 255.0, torch.tensor(config.std) * 255.0
        self.register_buffer("shift", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", (1.0 / std).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() - self.shift) * self.scale
