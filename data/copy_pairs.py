"""Copy-detection pairs made from a source's own images, as ``demo:photos`` is made from the bundled
photographs: each image against copies of itself under named edits (matches) and against copies
of other images of its split (non-matches), written as a pairs table with a ``split`` column, so
that a run on unlabelled images can validate on the edits it is for (``data.val_data``) and
`train evaluate` can answer "did training pay off?" on the user's own photographs.

Each original is copied byte for byte, so `train evaluate` recognises it if it is an image a
model trained on (a table made with other split settings than the run's)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from siamkit.data.demo import copy_edits
from siamkit.data.images import load_image

#: ``--edits`` name -> the edits of the bundled set of that name (``siamkit.data.demo.copy_edits``)
EDIT_SETS = {"photos": "demo", "hard": "hard", "unseen": "unseen"}
PAIRS_FILE = "pairs.csv"
IMAGES_FOLDER = "images"


def write_copy_pairs(images: dict[str, list[str]], out: Path, edits: str = "photos", copies: int = 2,
                     size: int = 256, seed: int = 0) -> list[tuple[str, str, int, str]]:
    """Writes ``out/images/SPLIT/`` and ``out/pairs.csv`` for ``images`` (split -> paths, two or
    more a split): each image with ``copies`` edited copies of it (``size`` px square, JPEG) as
    matches, and with as many copies of other images of its split as non-matches. Returns the
    rows (a, b, label, split), paths relative to ``out``."""
    rng = np.random.default_rng(seed)
    made: dict[str, list[tuple[str, list[str]]]] = {split: [] for split in images}
    jobs = [(split, k, path) for split, paths in images.items() for k, path in enumerate(paths)]
    for split, k, path in tqdm(jobs, desc="making copies", unit="image"):
        folder = out / IMAGES_FOLDER / split
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{k:05d}_{Path(path).stem}"  # numbered: two folders of a table may hold the same name
        original = f"{IMAGES_FOLDER}/{split}/{stem}{Path(path).suffix}"
        shutil.copyfile(path, out / original)
        edit = copy_edits(EDIT_SETS[edits], split, seed=int(rng.integers(1 << 31)), size=size)
        image = load_image(path)
        copied = [f"{IMAGES_FOLDER}/{split}/{stem}_copy{c}.jpg" for c in range(copies)]
        for name in copied:
            Image.fromarray(edit(image=image)["image"]).save(out / name, quality=95)
        made[split].append((original, copied))
    rows = []
    for split, entries in made.items():
        for k, (original, copied) in enumerate(entries):
            rows += [(original, name, 1, split) for name in copied]
            for c in range(copies):
                other = (k + int(rng.integers(1, len(entries)))) % len(entries)
                rows.append((original, entries[other][1][c], 0, split))
    with open(out / PAIRS_FILE, "w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(("a", "b", "label", "split"))
        writer.writerows(rows)
    return rows
