"""Backbone preprocessing and YAML-declared albumentations augmentation.

Every backbone states its own ``ImageConfig``; the data pipeline builds the tensor
transform from it, so a CLIP model is never fed ImageNet statistics or the wrong size.
Augmentation (train only) is a list of ``{TransformName: {arg: value}}`` entries read from
the config and applied to the decoded uint8 image before the preprocessing.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import string
from dataclasses import asdict, dataclass
from typing import Any, Callable, Literal

import albumentations as A
import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ImageConfig":
        return cls(**{**values, "mean": tuple(values["mean"]), "std": tuple(values["std"])})


#: Where albumentations keeps the transforms whose arguments are in pixels of their input.
_PIXEL_UNIT_MODULES = ("albumentations.augmentations.crops", "albumentations.augmentations.geometric.pad")


class ImagePipeline:
    """An albumentations pipeline as a callable: (H, W, 3) uint8 in, its ``image`` output out.

    albumentations keeps its own random state per pipeline, which forked DataLoader workers
    would all copy; ``reseed`` gives each worker (and each fixed validation view) its own.
    """

    def __init__(self, steps: list[A.BasicTransform]):
        self.compose = A.Compose(steps)

    def __call__(self, image: np.ndarray) -> Any:
        return self.compose(image=image)["image"]

    def reseed(self, seed: int) -> None:
        self.compose.set_random_seed(seed)

    def decode_size(self, size: int) -> int | None:
        """The shorter side an image must be decoded at for this pipeline to end at ``size`` px
        without upsampling; None for the image's own resolution.

        Steps up to the first one that sets the output size decide it. A random resized crop
        keeps as little as sqrt(min scale x most extreme aspect ratio) of the shorter side, so
        it needs proportionally more pixels; a crop or pad in pixels (RandomCrop(300), ...)
        means the source's own pixels."""
        for step in self.compose.transforms:
            if isinstance(step, A.RandomResizedCrop):
                low_ratio, high_ratio = step.ratio
                return math.ceil(size / math.sqrt(step.scale[0] * min(low_ratio, 1.0 / high_ratio)))
            if isinstance(step, (A.Resize, A.SmallestMaxSize, A.LongestMaxSize)):
                return size
            if type(step).__module__.startswith(_PIXEL_UNIT_MODULES) or isinstance(step, A.RandomScale):
                return None
        return size


ImageTransform = Callable[[np.ndarray], torch.Tensor]


def preprocessing(config: ImageConfig) -> list[A.BasicTransform]:
    """The deterministic resize / crop steps, (H, W, 3) uint8 -> (3, S, S) uint8 tensor.

    Normalisation by mean / std is the model's first step (``InputNormalization``), not the
    loader's: uint8 images are a quarter of the bytes that float32 ones are to pass from
    DataLoader workers and to copy to the GPU, and an exported model then takes images as
    they are after resizing."""
    interpolation = _INTERPOLATIONS[config.interpolation]
    if config.resize == "squash":
        resize = [A.Resize(config.size, config.size, interpolation=interpolation)]
    else:
        resize = [
            A.SmallestMaxSize(max_size=config.size, interpolation=interpolation),
            A.CenterCrop(config.size, config.size),
        ]
    return [*resize, A.ToTensorV2()]


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


def build_transform(config: ImageConfig, augment: list[dict[str, Any]] | None = None) -> ImagePipeline:
    """Image -> (3, S, S) uint8 tensor: the augmentations (if any), then resize and crop."""
    return ImagePipeline([*build_augmentations(augment or [], config.size), *preprocessing(config)])


def build_augmentations(entries: list[dict[str, Any]], size: int) -> list[A.BasicTransform]:
    """``[{"HorizontalFlip": {"p": 0.5}}, ...]`` -> albumentations transforms.

    Transforms that take a ``size`` (RandomResizedCrop ...) get the backbone's size when
    the entry leaves it out. Names resolve to siamkit's own transforms first, then
    albumentations'.
    """
    transforms = []
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(
                f"augmentation entry {entry!r} must be one mapping {{TransformName: {{arg: value}}}}"
            )
        ((name, kwargs),) = entry.items()
        kwargs = dict(kwargs or {})
        cls = _transform_class(name)
        accepted = _parameters(cls)
        if unknown := set(kwargs) - accepted:
            raise ConfigError(f"augmentation {name}: unknown argument(s) {sorted(unknown)}; it takes {sorted(accepted)}")
        if "size" in accepted and "size" not in kwargs:
            kwargs["size"] = (size, size)
        try:
            transforms.append(cls(**kwargs))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"augmentation {name}: bad arguments {kwargs}: {error}") from None
    return transforms


def _transform_class(name: str) -> type:
    cls = _OWN_TRANSFORMS.get(name) or getattr(A, name, None)
    if isinstance(cls, type) and issubclass(cls, A.BasicTransform):
        return cls
    known = [n for n in dir(A) if isinstance(getattr(A, n), type)] + list(_OWN_TRANSFORMS)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown augmentation {name!r}: not an albumentations transform.{hint}")


def _parameters(cls: type) -> set[str]:
    parameters = inspect.signature(cls.__init__).parameters
    return {name for name, p in parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


class OverlayText(A.ImageOnlyTransform):
    """Draws random text, emoji-like glyph blobs and boxes over the image.

    The overlays that copy-detection data sets see in the wild (captions, stickers,
    watermarks); albumentations' ``TextImage`` needs a font file, this needs none.
    """

    def __init__(self, max_items: int = 3, max_scale: float = 0.4, p: float = 0.5):
        super().__init__(p=p)
        self.max_items = max_items
        self.max_scale = max_scale

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        rng = self.py_random
        image = Image.fromarray(img)
        draw = ImageDraw.Draw(image)
        height, width = img.shape[:2]
        for _ in range(rng.randint(1, self.max_items)):
            color = tuple(rng.randint(0, 255) for _ in range(3))
            x, y = rng.randint(0, max(0, width - 1)), rng.randint(0, max(0, height - 1))
            extent = max(2, int(min(width, height) * rng.uniform(0.05, self.max_scale)))
            choice = rng.random()
            if choice < 0.5:
                text = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(3, 10)))
                font = _font(max(6, extent // 2))
                draw.text((x, y), text, fill=color, font=font)
            elif choice < 0.8:
                draw.ellipse((x, y, x + extent, y + extent), fill=color)
                eye = max(1, extent // 6)
                draw.ellipse((x + extent // 4, y + extent // 3, x + extent // 4 + eye, y + extent // 3 + eye), fill=(0, 0, 0))
                draw.ellipse((x + extent // 2, y + extent // 3, x + extent // 2 + eye, y + extent // 3 + eye), fill=(0, 0, 0))
            else:
                draw.rectangle((x, y, x + extent, y + extent // 2), outline=color, width=max(1, extent // 10))
        return np.array(image)  # writable, unlike np.asarray's view of Pillow's buffer

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("max_items", "max_scale")


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


_GRAY = np.array([0.299, 0.587, 0.114])
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


class ColorTwist(A.ImageOnlyTransform):
    """Colour jitter as one 3x4 colour matrix: ColorJitter's parameters, a fifth of its time.

    Brightness, contrast and saturation are linear in RGB and hue becomes linear too as a
    rotation about the gray axis in YIQ space (NVIDIA DALI's ``ColorTwist`` does the same),
    so the four compose into one ``cv2.transform`` pass. They commute (saturation and hue
    keep each pixel's gray level, hence the contrast pivot), so ColorJitter's random order
    has nothing to add. Differences from albumentations' ColorJitter: one rounding and
    clipping at the end instead of after each step, and hue turned in YIQ instead of HSV.

    Args:
        brightness, contrast, saturation: factors drawn from [1 - x, 1 + x].
        hue: turn drawn from [-x, x], as a fraction of the full circle (x <= 0.5).
    """

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2, hue: float = 0.0,
                 p: float = 0.5):
        super().__init__(p=p)
        if min(brightness, contrast, saturation, hue) < 0 or hue > 0.5:
            raise ValueError("brightness, contrast and saturation must be >= 0, hue between 0 and 0.5")
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    def get_params(self) -> dict[str, Any]:
        rng = self.py_random
        factors = [max(0.0, rng.uniform(1 - x, 1 + x)) for x in (self.brightness, self.contrast, self.saturation)]
        return dict(zip(("brightness", "contrast", "saturation"), factors), hue=rng.uniform(-self.hue, self.hue))

    def apply(self, img: np.ndarray, brightness: float, contrast: float, saturation: float, hue: float,
              **params: Any) -> np.ndarray:
        return cv2.transform(img, color_twist_matrix(img, brightness, contrast, saturation, hue))

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("brightness", "contrast", "saturation", "hue")


def color_twist_matrix(image: np.ndarray, brightness: float, contrast: float, saturation: float,
                       hue: float) -> np.ndarray:
    """The 3x4 matrix (RGB -> RGB, last column the offset) of ``ColorTwist`` for ``image``."""
    angle = 2 * math.pi * hue
    rotation = np.array([[1.0, 0.0, 0.0],
                         [0.0, math.cos(angle), -math.sin(angle)],
                         [0.0, math.sin(angle), math.cos(angle)]])
    turn = _YIQ_TO_RGB @ rotation @ _RGB_TO_YIQ
    desaturate = saturation * np.eye(3) + (1 - saturation) * np.outer(np.ones(3), _GRAY)
    gray_mean = _GRAY @ np.array(cv2.mean(image)[:3])
    matrix = np.empty((3, 4))
    matrix[:, :3] = contrast * brightness * turn @ desaturate
    matrix[:, 3] = (1 - contrast) * brightness * gray_mean
    return matrix


_OWN_TRANSFORMS: dict[str, type] = {"OverlayText": OverlayText, "ColorTwist": ColorTwist}

#: The copy-detection augmentation set (what near-duplicate pipelines meet in the wild).
COPY_DETECTION_AUGMENT: list[dict[str, Any]] = [
    {"RandomResizedCrop": {"scale": [0.4, 1.0], "p": 1.0}},
    {"HorizontalFlip": {"p": 0.5}},
    {"Rotate": {"limit": 20, "p": 0.3}},
    {"ColorTwist": {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.05, "p": 0.8}},
    {"ToGray": {"p": 0.1}},
    {"GaussianBlur": {"blur_limit": [3, 7], "p": 0.2}},
    {"ImageCompression": {"quality_range": [30, 90], "p": 0.5}},
    {"OverlayText": {"p": 0.3}},
]
