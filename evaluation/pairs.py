"""What every method is scored on: ``EvaluationData``.

It fixes the validation pairs (where each method's decision threshold is chosen) and the
test pairs (where every metric is measured), plus, for class-labelled data, the test images
and labels for retrieval. Data is read and split exactly as training reads it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siamkit.data.bad_images import BadImage
from siamkit.data.demo import resolve_source
from siamkit.data.same_bytes import later_copies
from siamkit.data.scan import BadImagePolicy, scan_images
from siamkit.data.source_kind import source_kind
from siamkit.data.sources import ClassSet, DataSet, PairSet, check_source_exists
from siamkit.data.splits import SplitRecord, has_split_column, split_source
from siamkit.errors import SiamkitError
from siamkit.wording import counted


@dataclass
class Pairs:
    a: np.ndarray  # (P,) image paths
    b: np.ndarray
    label: np.ndarray  # (P,) 1 same, 0 different

    def __len__(self) -> int:
        return len(self.label)


@dataclass
class EvaluationData:
    """What every method is scored on. ``pairs[split]`` for "val" (thresholds) and the
    evaluated split; ``images`` / ``labels``: the evaluated split's class-labelled images."""

    splits: SplitRecord
    split: str
    pairs: dict[str, Pairs]
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    skipped: list[BadImage] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.splits.source

    def describe(self) -> dict[str, Any]:
        test = self.pairs[self.split]
        return {"source": self.source, "kind": self.splits.kind, "split": self.split,
                "seed": self.splits.seed,
                "split_fractions": list(self.splits.fractions), "split_digest": self.splits.digest,
                "pairs": len(test), "matches": int(test.label.sum()),
                "threshold_pairs": len(self.pairs["val"]) if "val" in self.pairs else 0,
                "retrieval_images": 0 if self.images is None else len(self.images),
                "skipped_images": [bad.to_dict() for bad in self.skipped]}


def load_evaluation_data(splits: SplitRecord, split: str = "test", max_pairs: int = 100_000,
                         on_bad_image: BadImagePolicy = "error") -> EvaluationData:
    """Reads ``splits``' source as training does (refused if it no longer splits as recorded)."""
    return evaluation_data(*split_source(splits), split, max_pairs, on_bad_image)


def evaluation_data(data: DataSet, splits: SplitRecord, split: str = "test", max_pairs: int = 100_000,
                    on_bad_image: BadImagePolicy = "error") -> EvaluationData:
    """The pairs of ``data`` (read and split as ``splits`` says) every method is scored on."""
    source, seed = splits.source, splits.seed
    if not isinstance(data, (PairSet, ClassSet)):
        raise _unlabelled(source)
    bad = scan_images(data.paths(), on_bad_image, "pass --on-bad-image skip", data.root, "--root")
    rng = np.random.default_rng(seed)
    pairs, images, labels = {}, None, None
    for part in dict.fromkeys(("val", split)):  # once when split is "val"
        subset = data.subset((data.split == part) & ~_touches(data, list(bad)))
        if isinstance(subset, PairSet):
            subset = _without_self_pairs(subset, part, source)
            pairs[part] = Pairs(*(np.array([str(data.root / p) for p in column]) for column in (subset.a,
                                                                                                subset.b)),
                                subset.label.astype(int))
        else:
            subset = _without_copies(subset, part, source)
            pairs[part] = _class_pairs(np.array([str(data.root / p) for p in subset.path]), subset.label,
                                       max_pairs, rng)
            if part == split:
                images, labels = np.array([str(data.root / p) for p in subset.path]), np.asarray(subset.label)
    kinds = set(pairs[split].label)
    if len(kinds) < 2:
        held = "no pairs" if not kinds else f"only {'matching' if 1 in kinds else 'non-matching'} pairs"
        fix = (f"mark more of its rows split={split}" if has_split_column(source) else
               f"choose other split fractions (--split-fractions {'0 0 1' if split == 'test' else '0 1 0'} "
               f"puts all of it in the {split} split)")
        raise SiamkitError(f"the {split} split of {source} holds {held} ({len(pairs[split].label)}), and "
                           "every metric compares matches with non-matches; give it more images (of more "
                           f"than one class), or {fix}")
    if len(set(pairs["val"].label)) < 2:  # no threshold can be chosen on it
        del pairs["val"]
    return EvaluationData(splits, split, pairs, images, labels, skipped=list(bad.values()))


def check_labelled(source: str) -> None:
    """Refuses a source of unlabelled images (or a missing one) from its folder's top level or its
    table's header, before a command loads models; ``evaluation_data`` checks what it reads."""
    location = resolve_source(source)
    check_source_exists(location)
    if source_kind(location) == "images":
        raise _unlabelled(source)


def _unlabelled(source: str) -> SiamkitError:
    return SiamkitError(f"{source} has no labels: evaluation needs labelled pairs (a,b,label) or "
                        "class-labelled images (a folder per class, or path,label); `train copies "
                        f"--data {source} --out DIR` (or --splits-of RUN) pairs its val and test images "
                        "with edited copies of them in DIR/pairs.csv")


def _without_self_pairs(pairs: PairSet, split: str, source: str) -> PairSet:
    """A pair of an image with itself (one file, or the same bytes under two names) is a match to
    every method: it would only flatter them all (training may keep such pairs, whose two sides it
    augments apart)."""
    itself = pairs.same_image()
    if itself.any():
        print(f"note: left out of the {split} split of {source}: {counted(int(itself.sum()), 'pair')} of an "
              "image with itself (every method scores them as matches)", file=sys.stderr)
    return pairs.subset(~itself)


def _without_copies(images: ClassSet, split: str, source: str) -> ClassSet:
    """A second file with an image's bytes would be its nearest match for every method: each
    image is evaluated once."""
    copies = later_copies([str(images.root / p) for p in images.path])
    if copies.any():
        print(f"note: left out of the {split} split of {source}: {counted(int(copies.sum()), 'image')} with "
              "the same bytes as another of it (every method finds such a copy)", file=sys.stderr)
    return images.subset(~copies)


def _touches(data: PairSet | ClassSet, bad: list[str]) -> np.ndarray:
    if isinstance(data, PairSet):
        return np.isin(data.a, bad) | np.isin(data.b, bad)
    return np.isin(data.path, bad)


def _class_pairs(paths: np.ndarray, labels: np.ndarray, max_pairs: int, rng: np.random.Generator) -> Pairs:
    """All same-class pairs (sampled down to max_pairs / 2) and as many random different-class pairs."""
    i, j = np.triu_indices(len(paths), k=1)
    same = labels[i] == labels[j]
    positives = np.flatnonzero(same)
    negatives = np.flatnonzero(~same)
    count = min(len(positives), len(negatives), max_pairs // 2)
    chosen = np.concatenate([rng.choice(positives, count, replace=False),
                             rng.choice(negatives, count, replace=False)])
    return Pairs(paths[i[chosen]], paths[j[chosen]], same[chosen].astype(int))
