"""How a backbone wants its images: ``ImageConfig`` and the deterministic resize / crop steps
that every split and every inference path share.

Normalisation by mean / std is the model's first step (``siamkit.models.InputNormalization``),
not the loader's: uint8 images are a quarter of the bytes that float32 ones are to pass from
DataLoader workers and to copy to the GPU, and an exported model then takes images as they
are after resizing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

import albumentations as A
import cv2

from siamkit.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
}


@dataclass(frozen=True)
class ImageConfig:
    """How a backbone wants its input: square ``size`` px, normalised by ``mean`` / ``std``.

    ``resize``: "shortest" scales the shorter side to ``size`` then centre-crops (CLIP's and
    torchvision's way); "squash" resizes straight to size x size.
    """

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: Literal["nearest", "bilinear", "bicubic", "area"] = "bicubic"
    resize: Literal["shortest", "squash"] = "shortest"

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ConfigError(f"image_size must be a whole number of pixels >= 1, not {self.size!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """One line, keys sorted: what exported files record beside their weights."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ImageConfig":
        return cls(**{**values, "mean": tuple(values["mean"]), "std": tuple(values["std"])})


def input_description(config: ImageConfig) -> str:
    """``resize_steps`` in words, for those who feed an exported model without siamkit."""
    size = config.size
    how = f"shrunk by area (OpenCV's INTER_AREA) or enlarged by {config.interpolation} interpolation"
    resize = (f"resized straight to {size} x {size} px, {how}" if config.resize == "squash" else
              f"the shorter side resized to {size} px, {how}, then the centre {size} x {size} cropped")
    return f"uint8 RGB images, (batch, 3, {size}, {size}): {resize}; the model normalises them itself"


def resize_steps(config: ImageConfig) -> list[A.BasicTransform]:
    """The deterministic resize / crop steps, (H, W, 3) uint8 -> (3, S, S) uint8 tensor.

    Shrinking is by area (each output pixel the mean of those it covers), as a JPEG decoded at a
    reduction is; the config's interpolation enlarges. Interpolating without a low-pass filter
    aliases when it shrinks (Parmar et al. 2022, "On Aliased Resizing and Surprising Subtleties in
    GAN Evaluation"), so a photograph as PNG and as JPEG, or a file and its decoded array, embedded
    far apart: cosine 0.67 for one 512 px photograph at the photo demo's 64 px."""
    steps = {"interpolation": _INTERPOLATIONS[config.interpolation], "area_for_downscale": "image"}
    if config.resize == "squash":
        resize = [A.Resize(config.size, config.size, **steps)]
    else:
        resize = [A.SmallestMaxSize(max_size=config.size, **steps), A.CenterCrop(config.size, config.size)]
    return [*resize, A.ToTensorV2()]
