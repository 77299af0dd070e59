"""Torch datasets over the three data shapes.

Items are dicts of tensors; each dataset names the typed batch (``siamkit.data.batches``)
its loader collates them into, as ``batch_type``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from siamkit.data.batches import ClassBatch, ImageBatch, PairBatch, TwoViewBatch
from siamkit.data.images import load_image
from siamkit.data.sources import ClassSet, ImageSet, PairSet
from siamkit.data.transforms import ImagePipeline, ImageTransform


class ImageReader:
    """Decodes images below ``root``, asking JPEG decoding for no more detail than ``size``."""

    def __init__(self, root: Path, size: int | None = None):
        self.root = Path(root)
        self.size = size

    def __call__(self, relative: str) -> np.ndarray:
        return load_image(self.root / relative, draft_size=self.size)


class PairDataset(Dataset):
    """Labelled pairs from a ``PairSet``; both sides pass through ``transform``."""

    batch_type = PairBatch

    def __init__(self, pairs: PairSet, read: ImageReader, transform: ImageTransform):
        self.pairs, self.read, self.transform = pairs, read, transform

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        p = self.pairs
        return {
            "a": self.transform(self.read(p.a[i])),
            "b": self.transform(self.read(p.b[i])),
            "label": torch.tensor(p.label[i], dtype=torch.float32),
            "group_a": torch.tensor(p.group_a[i]),
            "group_b": torch.tensor(p.group_b[i]),
        }


class ClassImageDataset(Dataset):
    """Class-labelled images; batched M per class by ``MPerClassBatchSampler`` for training."""

    batch_type = ClassBatch

    def __init__(self, data: ClassSet, read: ImageReader, transform: ImageTransform):
        self.data, self.read, self.transform = data, read, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.transform(self.read(self.data.path[i])),
                "label": torch.tensor(self.data.label[i])}


class TwoViewDataset(Dataset):
    """Unlabelled images: two independently augmented views of one image are a positive pair;
    the image's index is its match group, so the rest of the batch are its negatives."""

    batch_type = TwoViewBatch

    def __init__(self, data: ImageSet, read: ImageReader, transform: ImageTransform):
        self.data, self.read, self.transform = data, read, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        image = self.read(self.data.path[i])
        group = torch.tensor(i)
        return {"a": self.transform(image), "b": self.transform(image), "label": torch.tensor(1.0),
                "group_a": group, "group_b": group}


class FixedViewPairs(Dataset):
    """Validation pairs for unlabelled images, identical in every epoch and run: image i
    against its own augmented copy (a match) and against the copy of image ``partner[i]``
    (a non-match). Copies are made with ``augment`` seeded by the pair index."""

    batch_type = PairBatch

    def __init__(self, data: ImageSet, read: ImageReader, preprocess: ImageTransform,
                 augment: ImagePipeline, seed: int = 0):
        self.data, self.read, self.preprocess, self.augment = data, read, preprocess, augment
        n = len(data)
        self.partner = (np.arange(n) + np.random.default_rng(seed).integers(1, max(2, n))) % max(1, n)
        self.seed = seed

    def __len__(self) -> int:
        return 2 * len(self.data)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i, positive = k // 2, k % 2 == 0
        j = i if positive else int(self.partner[i])
        self.augment.reseed(self.seed * 1_000_003 + j)
        copy = self.augment(self.read(self.data.path[j]))
        return {"a": self.preprocess(self.read(self.data.path[i])), "b": self.preprocess(copy),
                "label": torch.tensor(float(positive)), "group_a": torch.tensor(i),
                "group_b": torch.tensor(j)}


class ImageListDataset(Dataset):
    """Plain images for embedding (``predict``): ``image`` and its ``index`` in ``paths``."""

    batch_type = ImageBatch

    def __init__(self, paths: list[str], read: ImageReader, transform: ImageTransform):
        self.paths, self.read, self.transform = paths, read, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.transform(self.read(self.paths[i])), "index": torch.tensor(i)}
