"""Copy-detection pairs made from a source's own images, as ``demo:photos`` is made from the bundled
photographs: each image (or each of its regions) against copies of itself under named edits
(matches) and against copies of other images of its split (non-matches), written as a pairs table
with a ``split`` column, so that a run on unlabelled images can validate on the edits it is for
(``data.val_data``) and `train evaluate` can answer "did training pay off?" on the user's own
photographs.

``made_from.json`` beside the table records the split of the source the copies were made from, so
that copies of a model's own source split otherwise (whose originals may be its training images)
are refused (``check_made_from``); whole images are also copied byte for byte, which `train
evaluate`'s comparison of files recognises wherever they go."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from siamkit.data.demo import copy_edits, grid_patches, grid_side, resolve_source
from siamkit.data.images import load_image
from siamkit.data.splits import SplitMismatch, SplitRecord
from siamkit.errors import ConfigError
from siamkit.progress import progress_bar

#: ``--edits`` name -> the edits of the bundled set of that name (``siamkit.data.demo.copy_edits``)
EDIT_SETS = {"photos": "demo", "hard": "hard", "unseen": "unseen"}
PAIRS_FILE = "pairs.csv"
IMAGES_FOLDER = "images"
#: beside the table: the split record of the source the copies were made from
MADE_FROM_FILE = "made_from.json"
#: the smallest side of a region, in the image's own pixels
MIN_REGION = 32
#: the bytes of an image's name kept in its copies' names ("00012_NAME_r3_copy1.jpg")
NAME_BYTES = 120


class Original(NamedTuple):
    """An image (or region) of the table, its copies (paths relative to the table) and which
    source image it comes from."""

    name: str
    copies: list[str]
    image: int


def write_copy_pairs(images: dict[str, list[str]], out: Path, edits: str = "photos", copies: int = 2,
                     size: int = 256, seed: int = 0, regions: int = 0) -> list[tuple[str, str, int, str]]:
    """Writes ``out/images/SPLIT/`` and ``out/pairs.csv`` for ``images`` (split -> paths): each image,
    or with ``regions`` that many square regions of it (a grid's cells at ``size`` px, as
    ``demo:photos`` takes patches), with ``copies`` edited copies of it (``size`` px square, JPEG)
    as matches and as many copies of others as non-matches: other images of its split, and with
    regions every other one another region of the same image. A split needs two originals. Returns
    the rows (a, b, label, split), paths relative to ``out``."""
    rng = np.random.default_rng(seed)
    made: dict[str, list[Original]] = {split: [] for split in images}
    # one pipeline a split, seeded anew for each image (building one takes a millisecond an image)
    edit_of = {split: copy_edits(EDIT_SETS[edits], split, seed=0, size=size) for split in images}
    jobs = [(split, k, path) for split, paths in images.items() for k, path in enumerate(paths)]
    for split, k, path in progress_bar(jobs, desc="making copies", unit="image"):
        (out / IMAGES_FOLDER / split).mkdir(parents=True, exist_ok=True)
        # numbered, as names repeat across folders; shortened, as a file name holds at most 255 bytes
        short = Path(path).stem.encode()[:NAME_BYTES].decode(errors="ignore")
        stem = f"{IMAGES_FOLDER}/{split}/{k:05d}_{short}"
        edit = edit_of[split]
        edit.set_random_seed(int(rng.integers(1 << 31)))
        for name, picture in _originals(path, stem, out, regions, size, rng):
            copied = [f"{Path(name).with_suffix('')}_copy{c}.jpg" for c in range(copies)]
            for copy in copied:
                Image.fromarray(edit(image=picture)["image"]).save(out / copy, quality=95)
            made[split].append(Original(name, copied, k))
    rows = [row for split, originals in made.items() for row in _pairs(originals, split, copies, rng)]
    with open(out / PAIRS_FILE, "w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(("a", "b", "label", "split"))
        writer.writerows(rows)
    return rows


def made_from(table: str | Path) -> SplitRecord | None:
    """The split record of the source `train copies` made ``table`` from; None for any other table."""
    record = Path(table).parent / MADE_FROM_FILE
    return SplitRecord.read(record) if Path(table).name == PAIRS_FILE and record.is_file() else None


def check_made_from(source: str, now: SplitRecord, what: str, training: bool = False) -> None:
    """Refuses ``source`` where it is copies made of ``now``'s source split otherwise than ``now``
    splits it: their originals may be images that ``what`` trains or trained on (regions are new
    files, which no comparison of bytes finds). ``training``: ``what`` is a run about to train,
    which may take the copies' split instead; otherwise a model, whose split is done."""
    table = resolve_source(source)
    made = made_from(table)
    if made is None or not made.same_source(now):
        return
    if made.digest and now.digest:  # the assignments themselves, whatever settings made them
        same = made.digest == now.digest
    else:
        same = (made.fractions, made.seed) == (now.fractions, now.seed)
    if same:
        return
    same_settings = (made.fractions, made.seed) == (now.fractions, now.seed)
    if training and not made.copies_together and same_settings:
        fix = ("They were made from a split that put copies of one file (the same bytes under two names) "
               "apart, as siamkit no longer does: make them again (`train copies --config` with this run's "
               "config and options)")
    elif training and same_settings:  # the same settings, another assignment: the images changed
        fix = (f"The same settings split other images: {made.source} changed since the copies were made "
               f"({made.sizes()} then, {now.sizes()} now). Make them again from it as it is (`train copies "
               "--config` with this run's config and options)")
    elif same_settings:
        fix = (f"The same settings split other images: {made.source} held {made.sizes()} when the copies "
               f"were made, {now.sizes()} when {what} was trained on it. Make them again with its split "
               f"(`train copies --splits-of {what}`, from the images as {what} trained on them)")
    elif training:
        fix = (f"Train on the split they were made from (--data.split_fractions '{list(made.fractions)}' "
               f"--data.split_seed {made.seed}), or make them again with this run's settings (`train "
               "copies --config` with its config and options)")
    else:
        fix = f"Make them again with its split (`train copies --splits-of {what}`)"
    raise SplitMismatch(f"{table} holds copies of {made.source} split as {_splits(made)}, which {what} "
                        f"splits as {_splits(now)}: their originals may be images {what} trains or trained "
                        f"on. {fix}")


def _splits(record: SplitRecord) -> str:
    digest = f", assignment {record.digest[:12]}" if record.digest else ""
    return f"{list(record.fractions)} with seed {record.seed}{digest}"


def check_regions_fit(paths: list[str], regions: int) -> None:
    """Refuses, before anything is written, an image whose grid of ``regions`` cells would have cells
    under ``MIN_REGION`` px."""
    for path in paths:
        with Image.open(path) as image:
            width, height = image.size
        if regions and grid_side(height, width, regions) < MIN_REGION:
            raise ConfigError(f"{path} ({width}x{height} px) has no room for {regions} regions of "
                              f"{MIN_REGION} px or more: ask for fewer regions, or leave this image out")


def _originals(path: str, stem: str, out: Path, regions: int, size: int,
               rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """(name, pixels) of the image itself, copied as it is, or of its regions, written as PNG."""
    image = load_image(path)
    if not regions:
        name = f"{stem}{Path(path).suffix}"
        shutil.copyfile(path, out / name)
        return [(name, image)]
    found = []
    for r, patch in enumerate(grid_patches(image, regions, rng, size)):
        name = f"{stem}_r{r}.png"
        Image.fromarray(patch).save(out / name)
        found.append((name, patch))
    return found


def _pairs(originals: list[Original], split: str, copies: int,
           rng: np.random.Generator) -> list[tuple[str, str, int, str]]:
    """Each original with its copies, and with as many copies of others: alternately of another
    region of its image (the hard non-matches) and of another image, where there is one of each."""
    runs = _image_runs(originals)
    rows = []
    for k, original in enumerate(originals):
        rows += [(original.name, copy, 1, split) for copy in original.copies]
        for c in range(copies):
            j = _another(k, *runs[k], len(originals), c % 2 == 0, rng)
            rows.append((original.name, originals[j].copies[c], 0, split))
    return rows


def _image_runs(originals: list[Original]) -> list[tuple[int, int]]:
    """For each original, (start, end) of the run of consecutive originals of its image."""
    runs: list[tuple[int, int]] = []
    start = 0
    for k in range(1, len(originals) + 1):
        if k == len(originals) or originals[k].image != originals[start].image:
            runs += [(start, k)] * (k - start)
            start = k
    return runs


def _another(k: int, start: int, end: int, count: int, same_image: bool, rng: np.random.Generator) -> int:
    """An original other than ``k``, drawn with one number: another region of its own image (the
    run ``start``-``end``) when ``same_image`` and it has one, or when no other image has any;
    otherwise an original of another image."""
    own, others = end - start - 1, count - (end - start)
    if own and (same_image or not others):
        j = start + int(rng.integers(own))
        return j + (j >= k)
    j = int(rng.integers(others))
    return j + (end - start) * (j >= start)
