"""Read the three shapes of training data and split them without leaks.

- ``PairSet``: labelled pairs (columns ``a``, ``b``, ``label``) from CSV, JSONL or Parquet.
  Images joined by positive pairs, or by having the same bytes, form a group (a connected
  component); a split never cuts a group.
- ``ClassSet``: class-labelled images, a folder per class or a table ``path,label``.
- ``ImageSet``: unlabelled images (a flat folder or a table with ``path`` only).

Any table may carry a ``split`` column (train / val / test) instead of fractions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence, Union

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from siamkit.data.listing import IMAGE_SUFFIXES, find_image_files, is_hidden, written_by_siamkit
from siamkit.data.same_bytes import first_with_same_bytes
from siamkit.data.tables import check_image_cells, kind_of_columns, read_table, without_repeated_pairs
from siamkit.errors import ConfigError, SiamkitError
from siamkit.wording import counted, number

SPLITS = ("train", "val", "test")
SourceKind = Literal["auto", "pairs", "classes", "images"]


@dataclass
class PairSet:
    """Labelled pairs; ``group_a`` / ``group_b`` are the connected components of matches."""

    root: Path
    a: np.ndarray
    b: np.ndarray
    label: np.ndarray
    split: np.ndarray
    group_a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    group_b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


    def __len__(self) -> int:
        return len(self.label)

    def subset(self, mask: np.ndarray) -> "PairSet":
        return PairSet(self.root, self.a[mask], self.b[mask], self.label[mask], self.split[mask],
                       self.group_a[mask], self.group_b[mask])

    def paths(self) -> np.ndarray:
        return np.unique(np.concatenate([self.a, self.b]))

    def same_image(self) -> np.ndarray:
        """Per pair, whether its two sides are one image: one file however spelled (``a.png``,
        ``./a.png``), or two files with the same bytes."""
        names, side = np.unique(np.concatenate([self.a, self.b]), return_inverse=True)
        first = first_with_same_bytes([str(self.root / name) for name in names])[side]
        return first[:len(self)] == first[len(self):]


@dataclass
class ClassSet:
    root: Path
    path: np.ndarray
    label: np.ndarray
    class_names: list[str]
    split: np.ndarray


    def __len__(self) -> int:
        return len(self.path)

    def subset(self, mask: np.ndarray) -> "ClassSet":
        return ClassSet(self.root, self.path[mask], self.label[mask], self.class_names, self.split[mask])

    def paths(self) -> np.ndarray:
        return self.path


@dataclass
class ImageSet:
    root: Path
    path: np.ndarray
    split: np.ndarray


    def __len__(self) -> int:
        return len(self.path)

    def subset(self, mask: np.ndarray) -> "ImageSet":
        return ImageSet(self.root, self.path[mask], self.split[mask])

    def paths(self) -> np.ndarray:
        return self.path


DataSet = Union[PairSet, ClassSet, ImageSet]


#: train / val / test shares of data that has no ``split`` column
DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def check_source_exists(location: Path) -> None:
    if not location.exists():
        relative = "" if location.is_absolute() else f" (in {Path.cwd()})"
        raise SiamkitError(f"data not found: {location} does not exist{relative}. Give a folder of images, "
                           "a pairs / labels table (.csv, .jsonl, .parquet), or a bundled set (demo:digits, "
                           "demo:photos).")


def read_source(
    location: str | Path,
    *,
    root: str | Path | None = None,
    kind: SourceKind = "auto",
    fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
    seed: int = 0,
    copies_together: bool = True,
) -> DataSet:
    """A folder or table -> a split ``PairSet`` / ``ClassSet`` / ``ImageSet``.

    Image paths in a table are relative to ``root`` (default: the table's folder). With
    ``copies_together``, files with the same bytes under two names are one image to the split.
    """
    location = Path(location)
    check_source_exists(location)
    if location.is_file() and location.suffix.lower() in IMAGE_SUFFIXES:
        raise ConfigError(f"data source {location} is one image; point at a folder of images (such as "
                          f"{location.parent}) or a pairs / labels table (.csv, .jsonl, .parquet)")
    fractions = check_split_fractions(fractions)
    _check_root(root, location)
    if location.is_dir():
        data = _read_folder(location, kind)
    else:
        data = _read_table(location, Path(root) if root else location.parent, kind, copies_together)
    if not len(data):
        raise SiamkitError(f"no images found in {location}")
    if not (data.split == "").all():
        _check_no_leak(data, location)
        return data
    rng = np.random.default_rng(seed)
    if isinstance(data, PairSet):
        return _split_pairs(data, fractions, rng)
    data.split = _split_images(data, fractions, rng, copies_together)
    return data


def check_split_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Three numbers from 0 to 1 (NaN is none of them) that sum to 1."""
    if (len(fractions) != 3 or not all(0.0 <= f <= 1.0 for f in fractions)
            or not abs(sum(fractions) - 1.0) <= 1e-6):
        raise ConfigError(f"split fractions {list(fractions)} must be three "
                          "numbers from 0 to 1 (train, val, test) summing to 1")
    return tuple(float(f) for f in fractions)  # type: ignore[return-value]


def _check_root(root: str | Path | None, location: Path) -> None:
    if root is None:
        return
    if location.is_dir():
        raise ConfigError(f"root {root} is for tables, whose image paths it resolves; {location} is a "
                          "folder, whose images are found inside it: leave root out")
    if not Path(root).is_dir():
        raise ConfigError(f"root {root} does not exist (or is not a folder); it is the folder that the image "
                          f"paths of {location} are relative to")


def _read_folder(folder: Path, kind: SourceKind) -> DataSet:
    visible = [p for p in folder.iterdir() if not is_hidden(p.name) and not written_by_siamkit(p)]
    subfolders = sorted(p for p in visible if p.is_dir())
    loose = [p for p in visible if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if subfolders and loose and kind in ("auto", "classes"):
        raise ConfigError(
            f"{folder} mixes {counted(len(loose), 'image')} at its top level (e.g. {loose[0].name}) with "
            f"{counted(len(subfolders), 'sub-folder')} (e.g. {subfolders[0].name}/), so it is neither class "
            "folders nor one folder of unlabelled images. Move every image into a folder per class, or read "
            "all of them as unlabelled images with kind images (`--data.kind images` for train fit, `--kind "
            "images` for train copies and train leaks)")
    if subfolders and kind in ("auto", "classes"):
        paths, labels = [], []
        for index, sub in enumerate(subfolders):
            for image in find_image_files(sub)[0]:
                paths.append(os.path.relpath(image, folder))
                labels.append(index)
        return ClassSet(folder, np.array(paths), np.array(labels, np.int64),
                        [s.name for s in subfolders], np.full(len(paths), "", dtype=object))
    if kind == "pairs":
        raise ConfigError(f"{folder} is a folder; labelled pairs come as a table "
                          "(.csv, .jsonl, .parquet) with columns a, b, label")
    if kind == "classes":
        raise ConfigError(f"{folder} has no sub-folders, and kind classes reads a folder per class: move "
                          "each class's images into its own folder, or leave kind auto (unlabelled images)")
    paths = [os.path.relpath(image, folder) for image in find_image_files(folder)[0]]
    return ImageSet(folder, np.array(paths), np.full(len(paths), "", dtype=object))


def _label_word_as_number(value: object) -> object:
    """A CSV's true / false as 1 / 0, as JSONL's and Parquet's booleans read."""
    return {"true": 1, "false": 0}.get(value.strip().lower(), value) if isinstance(value, str) else value


def _read_table(path: Path, root: Path, kind: SourceKind, copies_together: bool) -> DataSet:
    table = read_table(path)
    columns = set(table.columns)
    if kind == "auto":
        kind = kind_of_columns(columns)
    required = {"pairs": {"a", "b", "label"}, "classes": {"path", "label"}, "images": {"path"}}[kind]
    if missing := required - columns:
        raise SiamkitError(
            f"{path}: missing {number(len(missing), 'column')} {sorted(missing)} for {kind} data; found "
            f"{sorted(columns)}. Pairs need a, b, label (1 same, 0 different); "
            "class-labelled images need path, label; unlabelled images need path."
        )
    check_image_cells(table, sorted(required - {"label"}), path)
    if kind == "pairs":
        labels = pd.to_numeric(table["label"].map(_label_word_as_number), errors="coerce")
        if labels.isna().any() or not labels.isin([0, 1]).all():
            row = int(np.flatnonzero((labels.isna() | ~labels.isin([0, 1])).to_numpy())[0])
            raise SiamkitError(f"{path}: column label must be 1 (same) or 0 (different), or true / false; "
                               f"found {table['label'].iloc[row]!r} in row {row + 1} (after the header)")
        table = without_repeated_pairs(table.assign(label=labels.astype(np.int64)), path)
        labels = table["label"]
    split = _split_column(table, path)
    if kind == "pairs":
        pairs = PairSet(root, table["a"].astype(str).to_numpy(), table["b"].astype(str).to_numpy(),
                        labels.to_numpy(np.int64), split)
        pairs.group_a, pairs.group_b = match_groups(pairs.a, pairs.b, pairs.label,
                                                    root if copies_together else None)
        return pairs
    if kind == "classes":
        names = sorted(table["label"].astype(str).unique())
        index = {name: i for i, name in enumerate(names)}
        labels = table["label"].astype(str).map(index).to_numpy(np.int64)
        return ClassSet(root, table["path"].astype(str).to_numpy(), labels, names, split)
    return ImageSet(root, table["path"].astype(str).to_numpy(), split)


def _split_column(table: pd.DataFrame, path: Path) -> np.ndarray:
    if "split" not in table.columns:
        return np.full(len(table), "", dtype=object)
    split = table["split"].astype(str).str.strip().str.lower().to_numpy(dtype=object)
    if bad := set(split) - set(SPLITS):
        raise SiamkitError(f"{path}: column split must hold train, val or test; found {sorted(bad)}")
    return split


def match_groups(a: np.ndarray, b: np.ndarray, label: np.ndarray,
                 root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the positive pairs, and, with ``root`` to read them from, of files
    with the same bytes under two names: one group id per side of every pair."""
    names, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inverse[: len(a)], inverse[len(a):]
    positive = label == 1
    rows, columns = [ia[positive]], [ib[positive]]
    if root is not None:
        first = first_with_same_bytes([str(root / name) for name in names])
        copies = np.flatnonzero(first != np.arange(len(names)))
        rows.append(copies)
        columns.append(first[copies])
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    graph = coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(len(names), len(names)))
    _, component = connected_components(graph, directed=False)
    return component[ia].astype(np.int64), component[ib].astype(np.int64)


def _split_pairs(pairs: PairSet, fractions: tuple[float, float, float], rng: np.random.Generator) -> PairSet:
    """Each match group goes whole to one split. A negative pair whose two groups landed in
    different splits would put an image on both sides, so it is dropped."""
    groups = np.unique(np.concatenate([pairs.group_a, pairs.group_b]))
    split_of_group = _split_units(groups, fractions, rng)
    split_a = np.array([split_of_group[g] for g in pairs.group_a], dtype=object)
    split_b = np.array([split_of_group[g] for g in pairs.group_b], dtype=object)
    pairs.split = split_a
    return pairs.subset(split_a == split_b)


def _split_images(data: ClassSet | ImageSet, fractions: tuple[float, float, float],
                  rng: np.random.Generator, copies_together: bool) -> np.ndarray:
    """Class-labelled: images split within each class; unlabelled: images split directly. Files
    with the same bytes under two names go to one split, as one image."""
    split = np.empty(len(data), dtype=object)
    if isinstance(data, ClassSet):
        strata = [np.flatnonzero(data.label == c) for c in np.unique(data.label)]
    else:
        strata = [np.arange(len(data))]
    for members in strata:
        same = (first_with_same_bytes([str(data.root / p) for p in data.path[members]]) if copies_together
                else np.arange(len(members)))
        first = members[same]
        for unit, s in _split_units(np.unique(first), fractions, rng).items():
            split[members[first == unit]] = s
    return split


def _split_units(units: np.ndarray, fractions: tuple[float, float, float], rng: np.random.Generator) -> dict:
    order = rng.permutation(units)
    n = len(order)
    n_val = int(round(fractions[1] * n))
    n_test = int(round(fractions[2] * n)) if fractions[0] else n - n_val  # train 0: none to train
    n_train = n - n_val - n_test
    names = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    return dict(zip(order.tolist(), names))


def _check_no_leak(data: DataSet, location: Path) -> None:
    if isinstance(data, PairSet):
        sides = pd.DataFrame({"image": np.concatenate([data.a, data.b]),
                              "split": np.concatenate([data.split, data.split])})
    else:
        sides = pd.DataFrame({"image": data.paths(), "split": data.split})
    per_image = sides.groupby("image")["split"].nunique()
    if (leaked := per_image[per_image > 1]).any():
        raise SiamkitError(
            f"{location}: {counted(len(leaked), 'image')} {number(len(leaked), 'sits', 'sit')} in more than "
            f"one split (e.g. {leaked.index[0]}); "
            "each image must belong to exactly one of train / val / test"
        )
