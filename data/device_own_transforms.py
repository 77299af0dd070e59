"""Device versions of siamkit's own copy-detection transforms (``data/augmentations.py``), for
``augment_on: device``: each image its own draw, made on the device, every choice a torch.where."""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from siamkit.data import augmentations
from siamkit.data.augmentations import GRAY_WEIGHTS, RGB_TO_YIQ, YIQ_TO_RGB, draw_overlays
from siamkit.data.device_draws import Warp, uniform, where_chosen


class ColorTwist(nn.Module):
    """``ColorTwist``, each image its own draw of brightness, contrast, saturation and hue."""

    def __init__(self, twist: augmentations.ColorTwist):
        super().__init__()
        self.brightness, self.contrast, self.saturation = twist.brightness, twist.contrast, twist.saturation
        self.hue, self.p = twist.hue, twist.p
        for name, matrix in (("gray", GRAY_WEIGHTS), ("to_yiq", RGB_TO_YIQ), ("from_yiq", YIQ_TO_RGB)):
            self.register_buffer(name, torch.as_tensor(matrix, dtype=torch.float32), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        factors = [uniform(images, 1 - x, 1 + x).clamp(min=0) for x in (self.brightness, self.contrast,
                                                                         self.saturation)]
        twisted = self.twist(images, *factors, uniform(images, -self.hue, self.hue))
        return where_chosen(self.p, twisted, images)

    def twist(self, images: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor,
              saturation: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
        """Each image by its own factors, (B,) each: ``color_twist_matrix``, batched."""
        angle = 2 * math.pi * hue
        rotation = torch.zeros(len(images), 3, 3, device=images.device)
        rotation[:, 0, 0] = 1
        rotation[:, 1, 1], rotation[:, 1, 2] = angle.cos(), -angle.sin()
        rotation[:, 2, 1], rotation[:, 2, 2] = angle.sin(), angle.cos()
        turn = self.from_yiq @ rotation @ self.to_yiq
        kept = saturation[:, None, None]
        desaturate = kept * torch.eye(3, device=images.device) + (1 - kept) * self.gray.expand(3, 3)
        matrix = (contrast * brightness)[:, None, None] * turn @ desaturate
        gray_mean = torch.einsum("c,bc->b", self.gray, images.mean(dim=(2, 3)))
        offset = ((1 - contrast) * brightness * gray_mean)[:, None, None, None]
        return (torch.einsum("bij,bjhw->bihw", matrix, images) + offset).clamp(0, 1)


class OverlayText(nn.Module):
    """``OverlayText``: overlays drawn by the loader path's own routine onto transparent layers,
    ``LAYERS`` of them per image size, once (seeded from torch's generator); each image is
    covered by a random one with probability ``p``."""

    LAYERS = 256

    def __init__(self, overlay: augmentations.OverlayText):
        super().__init__()
        self.max_items, self.max_scale, self.p = overlay.max_items, overlay.max_scale, overlay.p
        self._layers: dict[tuple, torch.Tensor] = {}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        layers = self._layers_for(images.shape[-1], images.shape[-2], images.device)
        chosen = layers[torch.randint(len(layers), (len(images),), device=images.device)]
        alpha = chosen[:, 3:]
        return where_chosen(self.p, images * (1 - alpha) + chosen[:, :3] * alpha, images)

    def _layers_for(self, width: int, height: int, device: torch.device) -> torch.Tensor:
        key = (width, height, device)
        if key not in self._layers:
            rng = random.Random(int(torch.randint(2**31, (1,))))
            drawn = []
            for _ in range(self.LAYERS):
                layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
                draw_overlays(ImageDraw.Draw(layer), (width, height), self.max_items, self.max_scale, rng)
                drawn.append(torch.from_numpy(np.asarray(layer).copy()))
            self._layers[key] = (torch.stack(drawn).permute(0, 3, 1, 2).float() / 255).to(device)
        return self._layers[key]


class PictureInPicture(Warp):
    """The image shrunk to a drawn share of its side, at a drawn place on a canvas of a drawn
    colour (bilinear shrinking where the loader path averages areas)."""

    def __init__(self, picture: augmentations.PictureInPicture):
        super().__init__()
        self.scale, self.p = picture.scale, picture.p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        share = uniform(images, *self.scale)
        left, top = uniform(images, 0, 1) * (1 - share), uniform(images, 0, 1) * (1 - share)
        theta = torch.zeros(len(images), 2, 3, device=images.device)
        theta[:, 0, 0], theta[:, 0, 2] = 1 / share, (1 - 2 * left) / share - 1
        theta[:, 1, 1], theta[:, 1, 2] = 1 / share, (1 - 2 * top) / share - 1
        inside = self.warp(torch.ones_like(images[:, :1]), theta)
        colour = torch.rand(len(images), 3, 1, 1, device=images.device)
        framed = self.warp(images, theta) * inside + colour * (1 - inside)
        return where_chosen(self.p, framed, images)
