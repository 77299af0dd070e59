"""The checks the DataModule makes before training starts: of its arguments, and of its data
once read (images that cannot be decoded, settings that only apply to unlabelled images,
near-duplicates across the splits, the labelled data that validates a run)."""

from __future__ import annotations

import logging

import numpy as np

from siamkit.data.bad_images import BadImage
from siamkit.data.demo import DEMO_PREFIX
from siamkit.data.same_bytes import first_with_same_bytes
from siamkit.data.scan import BadImagePolicy, scan_images
from siamkit.data.sources import ClassSet, DataSet, ImageSet, PairSet, check_split_fractions
from siamkit.data.splits import SplitMismatch, SplitRecord, check_same_splits, has_split_column, split_source
from siamkit.errors import ConfigError, SiamkitError
from siamkit.wording import counted

log = logging.getLogger(__name__)


def check_settings(counts: dict[str, int], split_fractions: tuple[float, float, float],
                   crop_scale: tuple[float, float], check_leaks: str, augment_on: str) -> None:
    """The DataModule's arguments, before anything is read."""
    lowest = {"num_workers": 0, "cache_decoded_mb": 0, "split_seed": 0}
    for name, value in counts.items():
        if value < lowest.get(name, 1):
            raise ConfigError(f"data.{name} must be a whole number >= {lowest.get(name, 1)}, not {value}")
    try:
        check_split_fractions(split_fractions)
    except ConfigError as error:
        raise ConfigError(f"data.split_fractions: {error}") from None
    if not 0 < crop_scale[0] <= crop_scale[1] <= 1:
        raise ConfigError(f"data.crop_scale must be [low, high] with 0 < low <= high <= 1 (shares of an "
                          f"image's area), not {list(crop_scale)}")
    if check_leaks not in ("warn", "error", "off"):
        quote = (" (YAML reads an unquoted yes or on as true: write the word you mean)"
                 if check_leaks is True else "")
        raise ConfigError(f"data.check_leaks must be warn, error or off, not {check_leaks!r}{quote}")
    if augment_on not in ("workers", "device"):
        raise ConfigError(f"data.augment_on must be workers or device, not {augment_on!r}")


def without_bad_images(data: DataSet, policy: BadImagePolicy,
                       root_option: str = "--data.root") -> tuple[DataSet, list[BadImage]]:
    """Decodes every image once, up front, so no worker ever meets a bad file mid-epoch; with
    ``policy`` skip, the data without them and which they were (``error`` stops, naming them).
    ``root_option`` sets the folder a table's paths are read from (none for ``data.val_data``)."""
    bad = scan_images(data.paths(), policy, "set `data.on_bad_image: skip`", data.root, root_option)
    if not bad:
        return data, []
    if isinstance(data, PairSet):
        keep = ~(np.isin(data.a, list(bad)) | np.isin(data.b, list(bad)))
    else:
        keep = ~np.isin(data.path, list(bad))
    return data.subset(keep), list(bad.values())


def labelled_val_data(source: str, policy: BadImagePolicy,
                      run_splits: SplitRecord) -> tuple[DataSet, list[BadImage]]:
    """``data.val_data``: the val and test splits of ``source`` (labelled pairs, or class-labelled
    images), split as `train evaluate` and `train export --check-data` split it, without
    unreadable images; it must have a val split, and copies `train copies` made of the run's own
    source must have been made from the run's splits (``run_splits``)."""
    from siamkit.data.copy_pairs import check_made_from

    try:
        data, _ = split_source(SplitRecord(source))
        check_made_from(source, run_splits, "this run", training=True)
    except SiamkitError as error:
        raise ConfigError(f"data.val_data: {error}") from None
    if isinstance(data, ImageSet):
        raise ConfigError(f"data.val_data: {source} has no labels; give labelled pairs (a,b,label) or "
                          "class-labelled images whose val split validates the run (e.g. demo:photos, or "
                          "the pairs `train copies --data SOURCE --out DIR` makes of a source's val and test "
                          "images)")
    data, skipped = without_bad_images(data.subset(data.split != "train"), policy, root_option="")
    if not (data.split == "val").any():
        raise ConfigError(f"data.val_data: {source} has no val split to validate with; give it rows with "
                          "split=val, or leave data.val_data out to validate on the source's own val split")
    if source.startswith(DEMO_PREFIX) and not run_splits.source.startswith(DEMO_PREFIX):
        labelled = run_splits.kind in ("pairs", "classes")
        own = ("--data.val_data null validates on its own val split" if labelled else "`train copies --data "
               "SOURCE --out DIR` makes val pairs of your own images (then --data.val_data DIR/pairs.csv)")
        log.warning(f"data.val_data is {source}, a bundled demo set, while the run trains on "
                    f"{run_splits.source}: the best checkpoint is chosen on the demo's images. {own}")
    return data, skipped


def without_copies_labelled_different(data: DataSet, source: str) -> DataSet:
    """Pairs labelled 0 (different) whose sides are two files with the same bytes (one file under
    two spellings is refused as the table is read): no model can tell them apart, and training
    on them pushes two views of one picture apart. Left out with a warning, as `train evaluate`
    leaves out every pair of an image with itself."""
    if not isinstance(data, PairSet):
        return data
    copies = data.same_image() & (data.label == 0)
    if count := int(copies.sum()):
        first = np.flatnonzero(copies)[0]
        are = "is" if count == 1 else "are"
        log.warning(f"{source}: {counted(count, 'pair')} labelled 0 (different) {are} "
                    f"two files with the same bytes (first: {data.a[first]} | {data.b[first]}); no model can "
                    "tell such a pair apart, so training and validation leave them out")
    return data.subset(~copies)


def check_unlabelled_settings(data: DataSet, source: str, crops_per_image: int, mixes_views: bool) -> None:
    unlabelled = isinstance(data, ImageSet)
    if crops_per_image > 1 and not unlabelled:
        raise ConfigError("data.crops_per_image applies to unlabelled images (a flat folder, or a "
                          f"table with `path` only); {source} is labelled: leave it at 1")
    if mixes_views and not unlabelled:
        raise ConfigError(f"data.mix_views mixes views of unlabelled images; {source} is labelled: "
                          "leave it at 0")
    if unlabelled and len(data) < 2:
        raise ConfigError(f"{source} holds {counted(len(data), 'readable image')}; unlabelled training "
                          "matches each image's views against the other images', so it needs at least two")


def check_train_classes(labels: np.ndarray, source: str) -> None:
    """A class-labelled objective learns what tells classes apart and what a class shares: one
    class teaches nothing (no negatives; a triplet loss of 0 at every step), and neither do classes
    of one image each (no positives)."""
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2:
        raise ConfigError(f"the train split of {source} holds images of one class only; learning what "
                          "tells classes apart needs two or more (a folder per class)")
    if counts.max() < 2:
        raise ConfigError(f"no class in the train split of {source} has two images, so there is no match to "
                          "learn from; give classes two or more images each")


def empty_split(split: str, data: DataSet, source: str, fractions: list[float]) -> SiamkitError:
    """Why ``split`` of ``data`` holds nothing, and what to do, as the error to raise. Labelled
    pairs are split by their groups of matching images, never cut, so few groups leave a split
    empty whatever share it has."""
    if has_split_column(source):
        return SiamkitError(f"the {split} split of {source} is empty: its split column names no row {split}; "
                            f"mark some rows split={split}")
    if isinstance(data, PairSet):
        groups = len(np.unique(np.concatenate([data.group_a, data.group_b])))
        instead = (", validate on other pairs (--data.val_data PAIRS) or train without validating "
                   "(--trainer.limit_val_batches 0)" if split == "val" else "")
        return SiamkitError(
            f"the {split} split of {source} is empty: its pairs join their images into "
            f"{counted(groups, 'group')} of matches, which a split never cuts (so that no image sits in "
            f"two splits), and split fractions {fractions} gave {split} none of them; name each row's split "
            f"in a split column (train / val / test){instead}, or add pairs of other images")
    return SiamkitError(f"the {split} split of {source} is empty; give it a share in "
                        f"`data.split_fractions` (now {fractions}), or more images")


def check_val_pairs(part: DataSet, source: str, whole: DataSet | None = None) -> None:
    """Validation ranks matches above non-matches: a val split that can give only one kind has
    no ROC-AUC to choose the best checkpoint by. ``whole``, the data ``part`` was split from,
    lets the message name split fractions that would give a class two val images."""
    hint = "other split fractions"
    if isinstance(part, PairSet):
        kinds = set(np.unique(part.label).tolist())
        missing = "non-matches (label 0)" if kinds == {1} else "matches (label 1)" if kinds == {0} else None
    elif isinstance(part, ClassSet):
        _, counts = np.unique(part.label, return_counts=True)
        missing = ("non-matches: it holds one class" if len(counts) < 2
                   else "matches: no class in it has two images" if counts.max() < 2 else None)
        if isinstance(whole, ClassSet) and counts.max() < 2:
            hint = _fractions_for_two_val_images(whole)
    else:
        return
    if missing:
        raise ConfigError(f"the val split of {source} can give no {missing}, so validation has no ROC-AUC; "
                          f"give it more images or {hint}, or train without validating "
                          "(--trainer.limit_val_batches 0)")


def _fractions_for_two_val_images(data: ClassSet) -> str:
    """Split fractions under which the largest class puts two images in val and test each and
    keeps two to train on (classes are split image by image, each its own share, copies of one
    file as one image)."""
    classes = [[str(data.root / p) for p in data.path[data.label == c]] for c in np.unique(data.label)]
    largest = max(len(np.unique(first_with_same_bytes(paths))) for paths in classes)
    for percent in range(5, 50):
        share = int(round(percent / 100 * largest))
        if share >= 2 and largest - 2 * share >= 2:
            held_out = percent / 100
            return (f"other split fractions (with {largest} images in the largest class, "
                    f"--data.split_fractions '[{1 - 2 * held_out:g}, {held_out:g}, {held_out:g}]' puts two "
                    "of them in val)")
    return ("other data to validate on (--data.val_data: the largest class here has "
            f"{counted(largest, 'image')})")


def check_earlier_training(record: SplitRecord, name: str, data: DataSet, now: SplitRecord,
                           val_data: DataSet | None) -> None:
    """Refuses a run from ``model.init_from``'s weights (``name``, trained and validated on
    ``record``) whose val or test split would hold images those weights were chosen on: its own
    source split otherwise (other settings, or data added since), or, from another source, the
    very files. Its val figures, and `train evaluate`'s on its test split, would flatter it."""
    from siamkit.data.same_bytes import same_files
    from siamkit.data.split_images import SEEN_SPLITS, image_splits_with_val_data, seen_images

    where = f"model.init_from {name}"
    if record.same_source(now):
        try:
            check_same_splits(record, now, where)
            return
        except SplitMismatch as mismatch:
            problem = str(mismatch)
    else:
        try:
            seen = seen_images(record, SEEN_SPLITS)
        except SiamkitError as error:  # not here, or changed since: its splits are not known
            log.warning(f"whether this run's val and test images include those {where} was trained on is "
                        f"not known: {error}")
            return
        paths, splits = image_splits_with_val_data(data, val_data)
        shared = same_files([path for path, split in zip(paths, splits) if split != "train"], seen)
        if not shared:
            return
        problem = (f"this run's val and test splits hold {counted(len(shared), 'image')} that {where} was "
                   f"trained or validated on (the same bytes as in {record.source}), e.g. "
                   f"{shared[0][0]} = {shared[0][1]}")
    raise ConfigError(f"{problem}. This run's val figures, and `train evaluate`'s on its test split, would "
                      "flatter it; data.check_leaks: off trains anyway")


def check_leaks(data: DataSet, source: str, mode: str, val_data: DataSet | None = None,
                val_source: str | None = None) -> None:
    """Near-duplicates (PDQ) on two sides of the splits, ``val_data``'s images (``val_source``'s
    val and test splits) in theirs: ``warn`` logs them, ``error`` stops."""
    from siamkit.data.split_images import image_splits_with_val_data
    from siamkit.retrieval.leaks import find_leaks, leak_summary, pdq_method

    paths, splits = image_splits_with_val_data(data, val_data)
    leaks, _ = find_leaks(paths, splits, pdq_method())  # an image too flat to hash cannot leak
    if not leaks:
        return
    checked, listing = source, f"--data {source}"
    if val_data is not None:
        checked, listing = f"{source} and data.val_data", f"--data {source} --val-data {val_source}"
    message = (f"{leak_summary(leaks, checked)}: validation and test figures would be optimistic. "
               f"`train leaks {listing} --out DIR` lists them; `data.check_leaks: off` skips this check")
    if mode == "error":
        raise ConfigError(message + ", `warn` only warns")
    log.warning(message)
