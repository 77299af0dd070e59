"""The checks the DataModule makes of its data once it is read, before training starts: images
that cannot be decoded, settings that only apply to unlabelled images, near-duplicates across
the splits."""

from __future__ import annotations

import logging

import numpy as np

from siamkit.data.bad_images import BadImage
from siamkit.data.datasets import ImageReader
from siamkit.data.scan import BadImagePolicy, scan_images
from siamkit.data.sources import DataSet, ImageSet, PairSet
from siamkit.errors import ConfigError

log = logging.getLogger(__name__)


def without_bad_images(data: DataSet, policy: BadImagePolicy) -> tuple[DataSet, list[BadImage]]:
    """Decodes every image once, up front, so no worker ever meets a bad file mid-epoch; with
    ``policy`` skip, the data without them and which they were (``error`` stops, naming them)."""
    bad = scan_images(ImageReader(data.root, size=64), data.paths(), policy, "set `data.on_bad_image: skip`")
    if not bad:
        return data, []
    if isinstance(data, PairSet):
        keep = ~(np.isin(data.a, list(bad)) | np.isin(data.b, list(bad)))
    else:
        keep = ~np.isin(data.path, list(bad))
    return data.subset(keep), list(bad.values())


def check_unlabelled_settings(data: DataSet, source: str, crops_per_image: int, mixes_views: bool) -> None:
    unlabelled = isinstance(data, ImageSet)
    if crops_per_image > 1 and not unlabelled:
        raise ConfigError("data.crops_per_image applies to unlabelled images (a flat folder, or a "
                          f"table with `path` only); {source} is labelled: leave it at 1")
    if mixes_views and not unlabelled:
        raise ConfigError(f"data.mix_views mixes views of unlabelled images; {source} is labelled: "
                          "leave it at 0")
    if unlabelled and len(data) < 2:
        raise ConfigError(f"{source} holds {len(data)} readable image(s); unlabelled training matches each "
                          "image's views against the other images', so it needs at least two")


def check_leaks(data: DataSet, source: str, mode: str) -> None:
    """Near-duplicates (PDQ) on two sides of the splits: ``warn`` logs them, ``error`` stops."""
    from siamkit.retrieval.leaks import find_leaks, image_splits, leak_summary, pdq_method

    paths, splits = image_splits(data)
    leaks, _ = find_leaks(paths, splits, pdq_method())  # an image too flat to hash cannot leak
    if not leaks:
        return
    message = (f"{leak_summary(leaks, source)}: validation and test figures would be optimistic. "
               f"`train leaks --data {source} --out DIR` lists them; `data.check_leaks: off` skips this "
               "check")
    if mode == "error":
        raise ConfigError(message + ", `warn` only warns")
    log.warning(message)
