"""siamkit's own albumentations transforms, for copy-detection augmentation.

Named in YAML like albumentations' own (``- OverlayText: {p: 0.3}``); ``build_augmentations``
finds them here first.
"""

from __future__ import annotations

import functools
import math
import string
from typing import Any

import albumentations as A
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


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
        image = Image.fromarray(img)
        draw_overlays(ImageDraw.Draw(image), image.size, self.max_items, self.max_scale, self.py_random)
        return np.array(image)  # writable, unlike np.asarray's view of Pillow's buffer

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("max_items", "max_scale")


def draw_overlays(draw: ImageDraw.ImageDraw, size: tuple[int, int], max_items: int, max_scale: float,
                  rng: Any) -> None:
    """1 to ``max_items`` overlays (text, a glyph blob or a box) of random colour and place,
    each up to ``max_scale`` of the shorter side, drawn with ``rng`` (a ``random.Random``)."""
    width, height = size
    for _ in range(rng.randint(1, max_items)):
        color = tuple(rng.randint(0, 255) for _ in range(3))
        x, y = rng.randint(0, max(0, width - 1)), rng.randint(0, max(0, height - 1))
        extent = max(2, int(min(width, height) * rng.uniform(0.05, max_scale)))
        choice = rng.random()
        if choice < 0.5:
            letters = string.ascii_letters + string.digits
            text = "".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))
            draw.text((x, y), text, fill=color, font=_font(max(6, extent // 2)))
        elif choice < 0.8:
            draw.ellipse((x, y, x + extent, y + extent), fill=color)
            eye = max(1, extent // 6)
            draw.ellipse((x + extent // 4, y + extent // 3, x + extent // 4 + eye,
                          y + extent // 3 + eye), fill=(0, 0, 0))
            draw.ellipse((x + extent // 2, y + extent // 3, x + extent // 2 + eye,
                          y + extent // 3 + eye), fill=(0, 0, 0))
        else:
            draw.rectangle((x, y, x + extent, y + extent // 2), outline=color, width=max(1, extent // 10))


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)


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

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2,
                 hue: float = 0.0,
                 p: float = 0.5):
        super().__init__(p=p)
        if min(brightness, contrast, saturation, hue) < 0 or hue > 0.5:
            raise ValueError("brightness, contrast and saturation must be >= 0, hue between 0 and 0.5")
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    def get_params(self) -> dict[str, Any]:
        rng = self.py_random
        factors = [max(0.0, rng.uniform(1 - x, 1 + x)) for x in (self.brightness, self.contrast,
                                                                 self.saturation)]
        return dict(zip(("brightness", "contrast", "saturation"), factors),
                    hue=rng.uniform(-self.hue, self.hue))

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
    turn = YIQ_TO_RGB @ rotation @ RGB_TO_YIQ
    desaturate = saturation * np.eye(3) + (1 - saturation) * np.outer(np.ones(3), GRAY_WEIGHTS)
    gray_mean = GRAY_WEIGHTS @ np.array(cv2.mean(image)[:3])
    matrix = np.empty((3, 4))
    matrix[:, :3] = contrast * brightness * turn @ desaturate
    matrix[:, 3] = (1 - contrast) * brightness * gray_mean
    return matrix


class PictureInPicture(A.ImageOnlyTransform):
    """The image shrunk to ``scale`` of its side and placed at a random spot of a canvas of its
    own size in a random colour: the copy inside a frame, a screenshot or a collage.

    Args:
        scale: the shrunk image's side as a share of the canvas's, drawn from this range.
    """

    def __init__(self, scale: tuple[float, float] = (0.3, 0.7), p: float = 0.5):
        super().__init__(p=p)
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high <= 1, not {scale}")
        self.scale = tuple(scale)

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        rng = self.py_random
        height, width = img.shape[:2]
        share = rng.uniform(*self.scale)
        inner = cv2.resize(img, (max(1, round(width * share)), max(1, round(height * share))),
                           interpolation=cv2.INTER_AREA)
        canvas = np.empty_like(img)
        canvas[:] = [rng.randint(0, 255) for _ in range(3)]
        top, left = rng.randint(0, height - inner.shape[0]), rng.randint(0, width - inner.shape[1])
        canvas[top:top + inner.shape[0], left:left + inner.shape[1]] = inner
        return canvas

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale",)


OWN_TRANSFORMS: dict[str, type] = {"OverlayText": OverlayText, "ColorTwist": ColorTwist,
                                   "PictureInPicture": PictureInPicture}
