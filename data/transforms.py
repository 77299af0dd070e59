"""Training augmentation declared in YAML, and the pipeline that runs it.

Augmentation (train only) is a list of ``{TransformName: {arg: value}}`` entries read from
the config and applied to the decoded uint8 image before the backbone's resize / crop steps
(``siamkit.data.image_config``), so a CLIP model is never fed the wrong size.
"""

from __future__ import annotations

import difflib
import inspect
import math
from typing import Any, Callable

import albumentations as A
import numpy as np
import torch

from siamkit.data.augmentations import OWN_TRANSFORMS
from siamkit.data.image_config import ImageConfig, resize_steps
from siamkit.errors import ConfigError
from siamkit.wording import number

#: Where albumentations keeps the transforms whose arguments are in pixels of their input.
_PIXEL_UNIT_MODULES = ("albumentations.augmentations.crops", "albumentations.augmentations.geometric.pad")


class ImagePipeline:
    """An albumentations pipeline as a callable: (H, W, 3) uint8 in, its ``image`` output out.

    albumentations keeps its own random state per pipeline, which forked DataLoader workers
    would all copy; ``reseed`` gives each worker (and each fixed validation view) its own.
    """

    def __init__(self, steps: list[A.BasicTransform], save_applied_params: bool = False):
        self.compose = A.Compose(steps, save_applied_params=save_applied_params)

    def __call__(self, image: np.ndarray) -> Any:
        return self.compose(image=image)["image"]

    def with_params(self, image: np.ndarray) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
        """The output and each step's (name, applied parameters); needs ``save_applied_params``."""
        output = self.compose(image=image)
        return output["image"], output["applied_transforms"]

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


def build_transform(config: ImageConfig, augment: list[dict[str, Any]] | None = None) -> ImagePipeline:
    """Image -> (3, S, S) uint8 tensor: the augmentations (if any), then resize and crop."""
    return ImagePipeline([*build_augmentations(augment or [], config.size), *resize_steps(config)])


def build_augmentations(entries: list[dict[str, Any]], size: int) -> list[A.BasicTransform]:
    """``[{"HorizontalFlip": {"p": 0.5}}, ...]`` -> albumentations transforms.

    Transforms that take a ``size`` (RandomResizedCrop ...) get the backbone's size when
    the entry leaves it out. Names resolve to siamkit's own transforms first, then
    albumentations'.
    """
    if all(isinstance(entry, A.BasicTransform) for entry in entries) and entries:  # also an A.Compose
        raise ConfigError("augmentation takes entries {TransformName: {arg: value}}, which a run records "
                          "as text, not albumentations objects: write "
                          f"{[_entry_of(transform) for transform in entries]}")
    transforms = []
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(
                f"augmentation entry {entry!r} must be one mapping {{TransformName: {{arg: value}}}}"
            )
        ((name, kwargs),) = entry.items()
        cls = _transform_class(name)
        if not isinstance(kwargs, (dict, type(None))):
            raise ConfigError(f"augmentation {name}: its arguments must be a mapping {{arg: value}}, "
                              f"not {kwargs!r}")
        kwargs = dict(kwargs or {})
        accepted = _parameters(cls)
        if unknown := set(kwargs) - accepted:
            raise ConfigError(f"augmentation {name}: unknown {number(len(unknown), 'argument')} "
                              f"{sorted(unknown)}; it takes {sorted(accepted)}")
        if "size" in accepted and "size" not in kwargs:
            kwargs["size"] = (size, size)
        try:
            transforms.append(cls(**kwargs))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"augmentation {name}: bad arguments {kwargs}: {error}") from None
    return transforms


def _transform_class(name: str) -> type:
    cls = OWN_TRANSFORMS.get(name) or getattr(A, name, None)
    if isinstance(cls, type) and issubclass(cls, A.BasicTransform):
        return cls
    known = [n for n in dir(A) if isinstance(getattr(A, n), type)] + list(OWN_TRANSFORMS)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown augmentation {name!r}: not an albumentations transform.{hint} Each entry "
                      "is {TransformName: {arg: value}}, e.g. {HorizontalFlip: {p: 0.5}}")


def _entry_of(transform: A.BasicTransform) -> dict[str, dict[str, Any]]:
    """The entry that builds ``transform`` again: its arguments that differ from their defaults."""
    defaults = {name: p.default for name, p in inspect.signature(type(transform).__init__).parameters.items()}
    arguments = transform.get_transform_init_args()
    arguments = {name: list(value) if isinstance(value, tuple) else value
                 for name, value in arguments.items() if defaults.get(name) != value}
    return {type(transform).__name__: arguments}


def _parameters(cls: type) -> set[str]:
    parameters = inspect.signature(cls.__init__).parameters
    return {name for name, p in parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


#: The copy-detection augmentation set (what near-duplicate pipelines meet in the wild). Its
#: strengths were chosen on the demo's validation copies (docs/benchmarks.md): weaker ones
#: (turns of 20 degrees for 0.3 of views, blur 0.2, JPEG 30-90) and ones as strong as the edits
#: themselves both scored lower there.
COPY_DETECTION_AUGMENT: list[dict[str, Any]] = [
    {"RandomResizedCrop": {"scale": [0.4, 1.0], "p": 1.0}},
    {"HorizontalFlip": {"p": 0.5}},
    {"Rotate": {"limit": 25, "p": 0.5}},
    {"ColorTwist": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.06, "p": 0.8}},
    {"ToGray": {"p": 0.1}},
    {"GaussianBlur": {"blur_limit": [3, 7], "p": 0.4}},
    {"ImageCompression": {"quality_range": [20, 90], "p": 0.6}},
    {"OverlayText": {"p": 0.4}},
]
