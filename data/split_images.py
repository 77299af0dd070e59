"""Which images each split of a source holds, and which of them chose a model's weights: with
``same_bytes.same_files``, how `train evaluate` keeps a model from being scored on, and `train
export --choose-on-val` from choosing on, images it trained on."""

from __future__ import annotations

import numpy as np

from siamkit.data.demo import resolve_source
from siamkit.data.sources import DataSet, PairSet
from siamkit.data.splits import SplitRecord, split_source
from siamkit.errors import SiamkitError

#: the splits of a model's source that chose its weights
SEEN_SPLITS = ("train", "val")


def image_splits(data: DataSet) -> tuple[list[str], np.ndarray]:
    """Every image of ``data`` once (full paths), and the split it is in."""
    if isinstance(data, PairSet):
        paths = np.concatenate([data.a, data.b])
        splits = np.concatenate([data.split, data.split])
    else:
        paths, splits = data.path, data.split
    paths, first = np.unique(paths, return_index=True)
    return [str(data.root / p) for p in paths], splits[first]


def image_splits_with_val_data(data: DataSet, val_data: DataSet | None) -> tuple[list[str], np.ndarray]:
    """``image_splits`` of a run's source, then of its ``data.val_data``'s val and test images (the
    run never trains on that set's own train split): the images the leak checks compare."""
    paths, splits = image_splits(data)
    if val_data is None:
        return paths, splits
    val_paths, val_splits = image_splits(val_data.subset(val_data.split != "train"))
    return paths + val_paths, np.concatenate([splits, val_splits])


def images_in(data: DataSet, splits: tuple[str, ...]) -> list[str]:
    paths, split_of = image_splits(data)
    return [path for path, split in zip(paths, split_of) if split in splits]


def seen_images(record: SplitRecord, splits: tuple[str, ...]) -> list[str]:
    """The images of ``splits`` of the source a model recorded it was trained on, split as then.
    Raises ``SiamkitError`` where that source is not here, or no longer splits as it did."""
    if not resolve_source(record.source).exists():
        raise SiamkitError(f"{record.source} is not here")
    return images_in(split_source(record)[0], splits)
