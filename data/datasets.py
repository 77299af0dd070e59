"""Torch datasets over the three data shapes.

Items are dicts of tensors; each dataset names the typed batch (``siamkit.data.batches``)
its loader collates them into, as ``batch_type``.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import albumentations as A
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from siamkit.data.batches import ClassBatch, ImageBatch, PairBatch, TwoViewBatch
from siamkit.data.images import load_image
from siamkit.data.same_bytes import first_with_same_bytes
from siamkit.data.sources import ClassSet, ImageSet, PairSet
from siamkit.data.transforms import ImagePipeline, ImageTransform
from siamkit.internals import workers_share_the_temp_folder
from siamkit.wording import counted


class ImageReader:
    """Decodes images below ``root``, asking JPEG decoding for no more detail than ``size``.

    With ``cache_mb``, decoded images are kept (oldest dropped first beyond that many
    megabytes): each DataLoader worker decodes a photograph once, however many crops it
    serves from it."""

    def __init__(self, root: Path, size: int | None = None, cache_mb: int = 0):
        self.root = Path(root)
        self.size = size
        self.cache_bytes = cache_mb * 2**20
        self._cache: dict[str, np.ndarray] = {}
        self._cached_bytes = 0

    def __call__(self, relative: str) -> np.ndarray:
        cached = self._cache.get(relative)
        if cached is not None:
            return cached
        image = load_image(self.root / relative, draft_size=self.size)
        if image.nbytes <= self.cache_bytes:
            while self._cached_bytes + image.nbytes > self.cache_bytes:
                self._cached_bytes -= self._cache.pop(next(iter(self._cache))).nbytes
            self._cache[relative] = image
            self._cached_bytes += image.nbytes
        return image


class Instances:
    """The instances of an unlabelled image set: each image whole, or (``per_image`` > 1) that
    many random square regions of each image, every region an instance of its own, so a few
    large photographs give many instances an epoch (each epoch new regions). ``seed`` fixes a
    region (validation)."""

    def __init__(self, data: ImageSet, read: ImageReader, per_image: int = 1, size: int = 0,
                 scale: tuple[float, float] = (0.05, 0.5)):
        self.data, self.read, self.per_image = data, read, per_image
        self.crop = None
        if per_image > 1:
            region = A.RandomResizedCrop(size=(size, size), scale=tuple(scale), ratio=(3 / 4, 4 / 3))
            self.crop = ImagePipeline([region], save_applied_params=True)
            self.groups = np.arange(len(self))  # regions drawn anew: no two show one content
        else:  # copies of one file under two names are one picture, never each other's negative
            self.groups = first_with_same_bytes([str(data.root / p) for p in data.path])

    def __len__(self) -> int:
        return len(self.data) * self.per_image

    def __call__(self, k: int, seed: int | None = None) -> np.ndarray:
        return self.region(k, seed)[0]

    def region(self, k: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Instance ``k`` and its box in its image: (x0, y0, x1, y1) as shares of the image's
        width and height, (0, 0, 1, 1) for the whole image."""
        image = self.read(self.data.path[k // self.per_image])
        if self.crop is None:
            return image, np.array([0, 0, 1, 1], np.float32)
        if seed is not None:
            self.crop.reseed(seed)
        region, ((_, params),) = self.crop.with_params(image)
        height, width = image.shape[:2]
        return region, np.array(params["crop_coords"], np.float32) / [width, height, width, height]


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
    """Unlabelled images: two independently augmented views of one instance (an image, or a
    region of one) are a positive pair; the instance's group (its index, or for a copy of an
    earlier file that file's) is its match group, so the rest of the batch are its negatives."""

    batch_type = TwoViewBatch

    def __init__(self, instances: Instances, transform: ImageTransform):
        self.instances, self.transform = instances, transform

    def __len__(self) -> int:
        return len(self.instances)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        image, box = self.instances.region(k)
        group = torch.tensor(self.instances.groups[k])
        return {"a": self.transform(image), "b": self.transform(image), "label": torch.tensor(1.0),
                "group_a": group, "group_b": group, "box": torch.from_numpy(box),
                "image_index": torch.tensor(k // self.instances.per_image)}


class FixedViewPairs(Dataset):
    """Validation pairs for unlabelled images, identical in every epoch and run: instance i
    against its own augmented copy (a match) and against the copy of instance ``partner[i]``
    (a non-match, never a copy of the same file). Regions and copies are seeded by the instance
    index."""

    batch_type = PairBatch

    def __init__(self, instances: Instances, preprocess: ImageTransform, augment: ImagePipeline,
                 seed: int = 0):
        self.instances, self.preprocess, self.augment = instances, preprocess, augment
        n = len(instances)
        self.partner = (np.arange(n) + np.random.default_rng(seed).integers(1, max(2, n))) % max(1, n)
        for i in np.flatnonzero(instances.groups[self.partner] == instances.groups):
            others = np.flatnonzero(instances.groups != instances.groups[i])  # a copy is no non-match
            if len(others):
                self.partner[i] = others[np.searchsorted(others, self.partner[i]) % len(others)]
        self.seed = seed

    def __len__(self) -> int:
        return 2 * len(self.instances)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i, positive = k // 2, k % 2 == 0
        j = i if positive else int(self.partner[i])
        self.augment.reseed(self.seed * 1_000_003 + j)
        copy = self.augment(self._instance(j))
        return {"a": self.preprocess(self._instance(i)), "b": self.preprocess(copy),
                "label": torch.tensor(float(positive)), "group_a": torch.tensor(i),
                "group_b": torch.tensor(j)}

    def _instance(self, k: int) -> np.ndarray:
        return self.instances(k, seed=self.seed * 7_919 + k)


class ImageListDataset(Dataset):
    """Plain images for embedding (``predict``): ``image`` and its ``index`` in ``paths``."""

    batch_type = ImageBatch

    def __init__(self, paths: list[str], read: ImageReader, transform: ImageTransform):
        self.paths, self.read, self.transform = paths, read, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.transform(self.read(self.paths[i])), "index": torch.tensor(i)}


def seeded_loader(dataset: Dataset, workers: int, **kwargs: Any) -> DataLoader:
    """A DataLoader whose augmentation is seeded from torch's generator (which ``seed_everything``
    sets): in each worker, or here when there are none (albumentations would draw a seed of its own).
    ``workers``: at most one a CPU this process may use (``fewer_workers``)."""
    workers = fewer_workers(workers)
    if not workers:
        _seed_augmentation(dataset, int(torch.randint(2**31, ())))
    else:
        workers_share_the_temp_folder()
    return DataLoader(dataset, num_workers=workers, persistent_workers=workers > 0,
                      worker_init_fn=init_worker, collate_fn=dataset.batch_type.collate,
                      pin_memory=torch.cuda.is_available(), **kwargs)


@functools.cache
def fewer_workers(workers: int, option: str = "data.num_workers") -> int:
    """``workers``, or the CPUs this process may use where those are fewer, with a note (once) that
    names ``option``: a config written for a GPU server (``num_workers: 8``) on a laptop, where torch
    warns that so many workers may slow loading down or freeze it."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if workers <= usable:
        return workers
    print(f"note: {option} {workers} is more than the {counted(usable, 'CPU')} this process may use: "
          f"loading with {counted(usable, 'worker')}", file=sys.stderr)
    return usable


def _seed_augmentation(dataset: Dataset, seed: int) -> None:
    instances = getattr(dataset, "instances", None)
    for offset, pipeline in enumerate((getattr(dataset, "transform", None),
                                       getattr(instances, "crop", None))):
        if isinstance(pipeline, ImagePipeline):
            pipeline.reseed((seed + offset) % 2**32)


def init_worker(worker_id: int) -> None:
    """Each worker its own augmentation seed. (Not cv2.setNumThreads: in a worker forked from
    a process whose OpenCV thread pool has run, resizing the pool deadlocks.)"""
    info = get_worker_info()
    _seed_augmentation(info.dataset, info.seed)
