"""Bundled demo data, made offline from images that ship inside installed packages.

- ``digits``: scikit-learn's 1,797 handwritten digits as a class-labelled set
  (``digits/<class>/<n>.png`` plus ``labels.csv``).
- ``photos``: a near-duplicate / copy-detection pairs set from the real photographs that
  scikit-image and scikit-learn ship: patches of each photograph and transformed copies
  of them (matches), other patches' copies (non-matches), split by source photograph
  (four draws of patches from each validation photograph, one from the others).
  Validation and test copies are transformed harder than training copies, so that settings
  chosen on the validation pairs are chosen for the edits the test holds.
- ``photographs``: the training and validation photographs of ``photos`` themselves, whole,
  as unlabelled images (``photographs.csv``: ``path,split``), for copy-detection training on
  random regions; the test photographs are left out, so a model trained on them is
  evaluated on ``demo:photos``' test pairs of photographs it has never seen.
- ``photos-hard``: pairs like ``photos``' of the validation and test photographs only, with
  edits that no bundled augmentation set trains on (crops to a fifth of the area, quarter
  turns, picture-in-picture, JPEG at quality 5-12): robustness to unseen edits, chosen on its
  val split, reported on its test split.
- ``photos-unseen``: the same patches with the crops and JPEG of ``photos-hard`` and, instead of
  its quarter turns and picture-in-picture (which a recipe may train on), a perspective warp and
  noise: edits that no siamkit recipe trains on.

Each set is written once to ``$SIAMKIT_CACHE/demo/NAME`` (default ``~/.cache/siamkit``)
as ordinary files, so users can see the format their own data needs.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import albumentations as A
import numpy as np
from PIL import Image

from siamkit.data.augmentations import OverlayText, PictureInPicture
from siamkit.data.cache import cache_dir
from siamkit.data.images import is_url, load_image
from siamkit.errors import ConfigError
from siamkit.progress import progress_bar

DEMO_PREFIX = "demo:"
VERSION = "3"

#: Photograph files by split: scikit-image's (skimage/data) and scikit-learn's sample images.
PHOTOS = {
    "train": ["astronaut.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "motorcycle_left.png",
              "camera.png", "coins.png", "brick.png", "grass.png", "page.png", "ihc.png", "horse.png"],
    "val": ["chelsea.png", "moon.png", "gravel.png"],
    "test": ["china.jpg", "flower.jpg", "retina.jpg", "text.png"],
}
PATCHES_PER_PHOTO = 6
COPIES_PER_PATCH = 2
#: Draws of patches from each validation photograph: 288 val pairs instead of 72, so that
#: settings are chosen on differences larger than the noise of a few dozen pairs.
VAL_DRAWS = 4
PATCH = 128


def resolve_source(source: str) -> Path:
    """``demo:NAME`` -> the materialised set's table or folder; any other string a local path."""
    if not source.startswith(DEMO_PREFIX):
        return local_source(source)
    name = source[len(DEMO_PREFIX):]
    if name not in _BUILDERS:
        raise ConfigError(f"unknown demo data {source!r}; bundled sets: "
                          f"{', '.join(DEMO_PREFIX + n for n in _BUILDERS)}")
    target = cache_dir() / "demo" / name
    if (target / f".complete-v{VERSION}").exists():
        return target / _ENTRY[name]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}-"))
    except OSError as error:
        raise ConfigError(f"{source} is made on first use in {target.parent}, which cannot be written "
                          f"({error.strerror}): set SIAMKIT_CACHE to a folder you can write to") from None
    try:  # built aside and moved into place whole, so an interrupted build leaves nothing half-made
        _BUILDERS[name](building)
        (building / f".complete-v{VERSION}").touch()
        shutil.rmtree(target, ignore_errors=True)
        os.replace(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target / _ENTRY[name]


def local_source(source: str) -> Path:
    """A data source's path (``~`` expanded: a YAML config's ``~/photos`` is not the shell's)."""
    if not source.strip():
        raise ConfigError("the data source is empty: point it at a folder of images, a pairs / labels table "
                          "(.csv, .jsonl, .parquet) or a bundled set (demo:digits, demo:photos)")
    if is_url(source):
        raise ConfigError(f"data source {source} is a URL, and siamkit reads local files only (it downloads "
                          "nothing): copy the data here and point at the copy")
    return Path(source).expanduser()


def _build_digits(out: Path) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = ["path,label"]
    for i, (image, label) in enumerate(progress_bar(zip(digits.images, digits.target),
                                                    total=len(digits.target), desc="making demo:digits",
                                                    unit="img")):
        relative = f"{label}/{i:04d}.png"
        (out / str(label)).mkdir(exist_ok=True)
        Image.fromarray((image * (255.0 / 16.0)).round().astype(np.uint8), mode="L").save(out / relative)
        rows.append(f"{relative},{label}")
    (out / "labels.csv").write_text("\n".join(rows) + "\n")


def sample_photograph(filename: str) -> np.ndarray:
    """One of the ``PHOTOS`` as an RGB array, read from the package that ships it."""
    if filename in ("china.jpg", "flower.jpg"):
        import sklearn.datasets

        folder = Path(sklearn.datasets.__file__).parent / "images"
    else:
        import skimage

        folder = Path(skimage.__file__).parent / "data"
    return load_image(folder / filename)


def copy_edits(edits: str, split: str, seed: int, size: int = PATCH) -> A.Compose:
    """The copies' edits, ending at ``size`` px. ``demo``: moderate ones for training copies,
    harder ones for validation and test copies. ``hard``: edits that no siamkit augmentation set
    trained on (crops to a fifth of the area, quarter turns, picture-in-picture, JPEG at quality
    5-12), for ``demo:photos-hard``. ``unseen``: the crops and JPEG of ``hard`` with a perspective
    warp and noise instead of the turns and picture-in-picture, which a recipe may train on, for
    ``demo:photos-unseen``."""
    if edits == "hard":
        steps = [
            A.RandomResizedCrop(size=(size, size), scale=(0.15, 0.25), p=1.0),
            A.RandomRotate90(p=0.75),
            PictureInPicture(scale=(0.4, 0.7), p=0.5),
            A.ImageCompression(quality_range=(5, 12), p=1.0),
        ]
    elif edits == "unseen":
        steps = [
            A.RandomResizedCrop(size=(size, size), scale=(0.15, 0.25), p=1.0),
            A.Perspective(scale=(0.05, 0.12), p=0.7),
            A.GaussNoise(std_range=(0.05, 0.15), p=0.5),
            A.ImageCompression(quality_range=(5, 12), p=1.0),
        ]
    elif split == "train":
        steps = [
            A.RandomResizedCrop(size=(size, size), scale=(0.6, 1.0), p=1.0),
            A.HorizontalFlip(p=0.5),
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02, p=0.8),
            A.ImageCompression(quality_range=(50, 90), p=0.5),
        ]
    else:
        steps = [
            A.RandomResizedCrop(size=(size, size), scale=(0.4, 0.8), p=1.0),
            A.Rotate(limit=25, p=0.7),
            A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.06, p=1.0),
            A.GaussianBlur(blur_limit=(3, 7), p=0.5),
            A.ImageCompression(quality_range=(20, 60), p=0.8),
            OverlayText(p=0.5),
        ]
    return A.Compose(steps, seed=seed)


def grid_side(height: int, width: int, count: int) -> int:
    """The side of the grid cells ``grid_patches`` takes ``count`` of: half the shorter side, made
    finer until the grid has ``count`` cells; 0 where not even cells of one pixel are that many."""
    side = min(height, width) // 2
    while side and (height // side) * (width // side) < count:  # small photographs: a finer grid
        side = int(side * 0.75)
    return side


def grid_patches(image: np.ndarray, count: int, rng: np.random.Generator,
                 size: int = PATCH) -> list[np.ndarray]:
    """``count`` non-overlapping square patches from a grid over the photograph, at ``size`` px."""
    side = grid_side(*image.shape[:2], count)
    cells = [(r, c) for r in range(image.shape[0] // side) for c in range(image.shape[1] // side)]
    chosen = rng.choice(len(cells), size=count, replace=False)
    out = []
    for k in chosen:
        r, c = cells[k]
        crop = image[r * side:(r + 1) * side, c * side:(c + 1) * side]
        out.append(np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC)))
    return out


def _build_photos(out: Path, edits: str = "demo") -> None:
    """``photos`` (``edits="demo"``), or the harder sets of the validation and test photographs
    only, whose patches are the same draws (the same generator seed) under other edits."""
    hard = edits != "demo"
    rng = np.random.default_rng(2 if hard else 0)
    extra = np.random.default_rng(1)  # the extra validation draws leave the others' stream as it was
    rows = ["a,b,label,split"]
    jobs = [(split, name) for split, names in PHOTOS.items() for name in names
            if not (hard and split == "train")]
    dataset = f"demo:photos{'-' + edits if hard else ''}"
    for split, filename in progress_bar(jobs, desc=f"making {dataset}", unit="photo"):
        name = Path(filename).stem
        (out / name).mkdir()
        draws = [("", rng)] + [(f"d{d}", extra) for d in range(1, VAL_DRAWS if split == "val" else 1)]
        for prefix, draw_rng in draws:
            rows += _draw(out, split, filename, prefix, draw_rng, edits)
    (out / "pairs.csv").write_text("\n".join(rows) + "\n")


def _draw(out: Path, split: str, filename: str, prefix: str, rng: np.random.Generator,
          edits: str) -> list[str]:
    """Patches of one photograph (``NAME/{prefix}p{n}.jpg``), their copies and the pair rows."""
    name = Path(filename).stem
    copy = copy_edits(edits, split, seed=int(rng.integers(1 << 31)))
    rows = []
    for p, patch in enumerate(grid_patches(sample_photograph(filename), PATCHES_PER_PHOTO, rng)):
        original = f"{name}/{prefix}p{p}.jpg"
        Image.fromarray(patch).save(out / original, quality=95)
        for c in range(COPIES_PER_PATCH):
            copied = f"{name}/{prefix}p{p}_copy{c}.jpg"
            Image.fromarray(copy(image=patch)["image"]).save(out / copied, quality=95)
            rows.append(f"{original},{copied},1,{split}")
    return rows + _negatives(split, name, prefix, rng)


def _negatives(split: str, name: str, prefix: str, rng: np.random.Generator) -> list[str]:
    """Each original against a copy of another patch of the same draw: same photograph (hard)
    and another photograph of the same split (easier), as many non-matches as matches."""
    others = [Path(n).stem for n in PHOTOS[split] if Path(n).stem != name]
    rows = []
    for p in range(PATCHES_PER_PHOTO):
        other_patch = (p + int(rng.integers(1, PATCHES_PER_PHOTO))) % PATCHES_PER_PHOTO
        rows.append(f"{name}/{prefix}p{p}.jpg,{name}/{prefix}p{other_patch}_copy0.jpg,0,{split}")
        other = others[int(rng.integers(len(others)))]
        rows.append(f"{name}/{prefix}p{p}.jpg,{other}/{prefix}p{int(rng.integers(PATCHES_PER_PHOTO))}_copy1.jpg,"
                    f"0,{split}")
    return rows


def _build_photographs(out: Path) -> None:
    rows = ["path,split"]
    for split in ("train", "val"):
        for filename in PHOTOS[split]:
            name = f"{Path(filename).stem}.png"
            Image.fromarray(sample_photograph(filename)).save(out / name)
            rows.append(f"{name},{split}")
    (out / "photographs.csv").write_text("\n".join(rows) + "\n")


_BUILDERS = {"digits": _build_digits, "photos": _build_photos, "photographs": _build_photographs,
             "photos-hard": functools.partial(_build_photos, edits="hard"),
             "photos-unseen": functools.partial(_build_photos, edits="unseen")}
_ENTRY = {"digits": "labels.csv", "photos": "pairs.csv", "photographs": "photographs.csv",
          "photos-hard": "pairs.csv", "photos-unseen": "pairs.csv"}
