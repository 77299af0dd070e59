"""Typed batches: what the DataModule's loaders yield, and what losses declare they accept.

Images are (B, 3, S, S) uint8 tensors as the loaders give them; ``map_images`` returns the same
batch with each image tensor replaced by a function of it: its (B, E) embedding, which is what a
loss reads, or its augmented copy (``augment_on: device``).
A loss names the batch types it accepts (``SiameseLoss.accepts``); ``SiameseModule`` checks
the data's training batch type against them when a run is set up, before the first step.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

import torch
from torch.utils.data import default_collate

ImageFunction = Callable[[torch.Tensor], torch.Tensor]
B = TypeVar("B", bound="Batch")


class Batch(ABC):
    """Base of the batch dataclasses: collation from the datasets' dicts, pinning and moving."""

    @classmethod
    def collate(cls: type[B], items: list[dict[str, Any]]) -> B:
        return cls(**default_collate(items))

    def pin_memory(self: B) -> B:
        return self._map(lambda tensor: tensor.pin_memory())

    def to(self: B, device: torch.device | str, non_blocking: Optional[bool] = None) -> B:
        """Copies to a GPU do not wait for the GPU (Lightning passes ``non_blocking`` only to plain
        tensors, so a batch decides for itself); copies to the CPU do, as their values are read."""
        if non_blocking is None:
            non_blocking = torch.device(device).type == "cuda"
        return self._map(lambda tensor: tensor.to(device, non_blocking=non_blocking))

    def _map(self: B, function: Callable[[torch.Tensor], torch.Tensor]) -> B:
        fields = [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]
        return dataclasses.replace(self, **{name: function(getattr(self, name)) for name in fields})

    @abstractmethod
    def map_images(self: B, function: ImageFunction) -> B:
        """The batch with each image tensor replaced by ``function(images)``: its (B, E) embedding,
        or its augmented copy."""

    @property
    @abstractmethod
    def image_count(self) -> int:
        """Images the backbone sees for this batch."""


@dataclass
class PairBatch(Batch):
    """Labelled pairs: ``a``, ``b`` images, ``label`` (B,) 1 same / 0 different, ``group_a``,
    ``group_b`` (B,) match-group ids (equal ids are known matches, never used as negatives)."""

    a: torch.Tensor
    b: torch.Tensor
    label: torch.Tensor
    group_a: torch.Tensor
    group_b: torch.Tensor

    def __len__(self) -> int:
        return len(self.label)

    def map_images(self: B, function: ImageFunction) -> B:
        both = function(torch.cat([self.a, self.b]))  # one pass (through the backbone) for both sides
        return dataclasses.replace(self, a=both[: len(self.a)], b=both[len(self.a):])

    @property
    def image_count(self) -> int:
        return 2 * len(self.label)


@dataclass
class TwoViewBatch(PairBatch):
    """Unlabelled images, two augmented views each: ``a[i]`` and ``b[i]`` match (``label`` all
    1), and each image's index is its match group, so the rest of the batch are negatives.
    A loss accepts it only by naming it: pair losses that need labelled non-matches do not.

    ``image_index`` (B,) and ``box`` (B, 4) say where each instance comes from: the image, and
    the region of it (x0, y0, x1, y1, as shares of its width and height).

    After ``ViewMix``: ``b[i]`` is ``own_share[i]`` of its own instance and the rest of
    instance ``other_b[i]`` (a group id; its own where unmixed, with ``own_share`` 1)."""

    image_index: Optional[torch.Tensor] = None
    box: Optional[torch.Tensor] = None
    other_b: Optional[torch.Tensor] = None
    own_share: Optional[torch.Tensor] = None


@dataclass
class _Images(Batch):
    """One image per row: ``image``."""

    image: torch.Tensor

    def __len__(self) -> int:
        return len(self.image)

    def map_images(self: B, function: ImageFunction) -> B:
        return dataclasses.replace(self, image=function(self.image))

    @property
    def image_count(self) -> int:
        return len(self.image)


@dataclass
class ClassBatch(_Images):
    """Class-labelled images drawn M per class: ``image`` and ``label`` (B,) class ids."""

    label: torch.Tensor


@dataclass
class ImageBatch(_Images):
    """Plain images to embed (``predict``): ``image`` and its ``index`` in the listing."""

    index: torch.Tensor
