"""Training augmentation on the model's device (``data.augment_on: device``).

The loader then only decodes (once per worker, cached) and resizes each image to a square of
``decode_size`` px; the augmentations of ``data.augment`` run on the training batch where the
model runs (the GPU), batched, each image drawing its own parameters. The entries are the same
as for the loader's albumentations path and are read from the same albumentations objects,
defaults included, so a config means the same thing on both paths (tests/data/
test_device_augmentation.py compares them transform by transform).

Written in plain torch rather than with kornia.augmentation, which draws parameters on the host
and picks the images to change by boolean indexing, and whose JPEG checks its quality with
``.item()``: each of those makes the host wait for the GPU, every step. Here every draw is made on
the device and every choice is a ``torch.where``, so nothing reads a GPU value.

What differs from the loader path: random crops come from the image's centred square, and a crop
whose side would exceed the image is clipped (albumentations draws again); Gaussian blur uses the
largest kernel of ``blur_limit``; JPEG quantises the DCT coefficients as libjpeg does (4:2:0, the
standard tables) without entropy coding, which is lossless, and of the colours as they are
(albumentations hands OpenCV RGB as if it were BGR, so its chroma loss is of swapped channels,
though as large); OverlayText draws its overlays once,
onto 256 layers per image size, which the images then share.
"""

from __future__ import annotations

import math
from typing import Callable

import albumentations as A
import cv2
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.data import augmentations
from siamkit.data import device_own_transforms as own
from siamkit.data.augmentations import GRAY_WEIGHTS
from siamkit.data.device_draws import Warp, uniform, where_chosen
from siamkit.data.jpeg_quantization import jpeg_quantized
from siamkit.errors import ConfigError


class RandomResizedCrop(Warp):
    def __init__(self, crop: A.RandomResizedCrop):
        super().__init__()
        self.size, self.scale, self.ratio, self.p = crop.size[0], crop.scale, crop.ratio, crop.p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        area = uniform(images, *self.scale)
        ratio = uniform(images, math.log(self.ratio[0]), math.log(self.ratio[1])).exp()
        width, height = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
        left, top = uniform(images, 0, 1) * (1 - width), uniform(images, 0, 1) * (1 - height)
        crop = torch.rand(len(images), device=images.device) < self.p  # else the whole image
        width, height = torch.where(crop, width, 1.0), torch.where(crop, height, 1.0)
        left, top = torch.where(crop, left, 0.0), torch.where(crop, top, 0.0)
        theta = torch.zeros(len(images), 2, 3, device=images.device)
        theta[:, 0, 0], theta[:, 0, 2] = width, 2 * left + width - 1
        theta[:, 1, 1], theta[:, 1, 2] = height, 2 * top + height - 1
        return self.warp(images, theta)


class Rotate(Warp):
    def __init__(self, rotate: A.Rotate):
        super().__init__()
        self.limit, self.p = rotate.limit, rotate.p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        angle = torch.deg2rad(uniform(images, *self.limit))
        theta = torch.zeros(len(images), 2, 3, device=images.device)
        theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
        theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
        return where_chosen(self.p, self.warp(images, theta), images)


class RandomRotate90(nn.Module):
    """Quarter turns, counter-clockwise as ``np.rot90``: each image k of 0-3, drawn uniformly."""

    def __init__(self, rotate: A.RandomRotate90):
        super().__init__()
        self.p = rotate.p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        turns = torch.randint(4, (len(images),), device=images.device)[:, None, None, None]
        turned = images
        for k in (1, 2, 3):
            turned = torch.where(turns == k, images.rot90(k, dims=(-2, -1)), turned)
        return where_chosen(self.p, turned, images)


class Flip(nn.Module):
    def __init__(self, flip: A.HorizontalFlip | A.VerticalFlip):
        super().__init__()
        self.dim, self.p = -1 if isinstance(flip, A.HorizontalFlip) else -2, flip.p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return where_chosen(self.p, images.flip(self.dim), images)


class ToGray(nn.Module):
    def __init__(self, gray: A.ToGray):
        super().__init__()
        self.p = gray.p
        self.register_buffer("weights", torch.as_tensor(GRAY_WEIGHTS, dtype=torch.float32), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        gray = torch.einsum("c,bchw->bhw", self.weights, images)[:, None].expand_as(images)
        return where_chosen(self.p, gray, images)


class GaussianBlur(nn.Module):
    def __init__(self, blur: A.GaussianBlur):
        super().__init__()
        self.kernel, self.sigma, self.p = max(blur.blur_limit) | 1, blur.sigma_limit, blur.p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        sigma = uniform(images, *self.sigma)
        offsets = torch.arange(self.kernel, device=images.device) - self.kernel // 2
        weights = torch.exp(-offsets[None] ** 2 / (2 * sigma[:, None] ** 2))
        weights = (weights / weights.sum(1, keepdim=True)).repeat_interleave(3, dim=0)  # (B*3, k)
        n, c, h, w = images.shape
        x, half = images.reshape(1, n * c, h, w), self.kernel // 2
        x = F.conv2d(F.pad(x, (half, half, 0, 0), mode="reflect"), weights[:, None, None, :], groups=n * c)
        x = F.conv2d(F.pad(x, (0, 0, half, half), mode="reflect"), weights[:, None, :, None], groups=n * c)
        return where_chosen(self.p, x.reshape(n, c, h, w), images)


class ImageCompression(nn.Module):
    def __init__(self, compression: A.ImageCompression):
        super().__init__()
        self.quality, self.p = compression.quality_range, compression.p

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        quality = uniform(images, self.quality[0], self.quality[1] + 1).floor().clamp(max=self.quality[1])
        return where_chosen(self.p, jpeg_quantized(images * 255, quality) / 255, images)


#: albumentations (or siamkit) transform -> its device version, built from the same object
DEVICE_VERSIONS: dict[type, Callable[..., nn.Module]] = {
    A.RandomResizedCrop: RandomResizedCrop, A.Rotate: Rotate, A.HorizontalFlip: Flip, A.VerticalFlip: Flip,
    A.ToGray: ToGray, A.GaussianBlur: GaussianBlur, A.ImageCompression: ImageCompression,
    A.RandomRotate90: RandomRotate90, augmentations.ColorTwist: own.ColorTwist,
    augmentations.OverlayText: own.OverlayText, augmentations.PictureInPicture: own.PictureInPicture,
}
#: settings a device version does not follow: (transform, attribute, the only value it follows)
_FOLLOWS_ONLY = [(A.RandomResizedCrop, "interpolation", cv2.INTER_LINEAR),
                 (A.Rotate, "interpolation", cv2.INTER_LINEAR),
                 (A.Rotate, "border_mode", cv2.BORDER_CONSTANT),
                 (A.Rotate, "fill", 0.0), (A.ToGray, "method", "weighted_average"),
                 (A.ImageCompression, "compression_type", "jpeg")]


class DeviceAugmentation(nn.Module):
    """(B, 3, D, D) uint8 -> (B, 3, S, S) uint8: the augmentations, then a resize to S px where
    none of them set the size."""

    def __init__(self, transforms: list[A.BasicTransform], size: int):
        super().__init__()
        check_device_versions(transforms)
        self.steps = nn.ModuleList(DEVICE_VERSIONS[type(t)](t) for t in transforms)
        self.size = size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255
        for step in self.steps:
            x = step(x)
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True,
                              align_corners=False)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def check_device_versions(transforms: list[A.BasicTransform]) -> None:
    """One line naming the first transform (or setting) that has no device version."""
    for transform in transforms:
        name = type(transform).__name__
        if type(transform) not in DEVICE_VERSIONS:
            have = ", ".join(sorted({t.__name__ for t in DEVICE_VERSIONS}))
            hint = " (ColorTwist is its device-ready kin)" if name == "ColorJitter" else ""
            raise ConfigError(f"augmentation {name} has no device version{hint}; data.augment_on: device "
                              f"takes {have}. Leave it out, or augment in the loader (augment_on: workers)")
        for kind, attribute, value in _FOLLOWS_ONLY:
            if isinstance(transform, kind) and getattr(transform, attribute) != value:
                given = getattr(transform, attribute)
                raise ConfigError(f"augmentation {name}: {attribute} {given!r} has no device version (it "
                                  f"follows {value!r} only); use that, or data.augment_on: workers")
