"""Which files of a folder are images siamkit can list: the rest (other file types, pipes, broken
links, names no list of file names can hold) come back with the reason, to be reported."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from PIL import features

from siamkit.data.bad_images import BadImage

IMAGE_SUFFIXES = ({".jpg", ".jpeg", ".jfif", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
                  | ({".avif"} if features.check("avif") else set()))  # where this Pillow reads AVIF


#: the files by which a folder is one siamkit wrote, whose images are its plots or edited copies,
#: not the collection's (`train evaluate --out photos/report` had put the ROC curve among the photos)
WRITTEN_BY_SIAMKIT = {("metrics.json", "report.html"): "a `train evaluate` report",
                      ("made_from.json", "pairs.csv"): "pairs from `train copies`",
                      ("duplicates.csv", "duplicates.html"): "a `train duplicates` report",
                      ("matches.csv", "matches.html"): "a `train duplicates --against` report",
                      ("leaks.csv", "leaks.html"): "a `train leaks` report",
                      ("index.json", "files.txt"): "an index from `train embed`",
                      ("config.json", "model.safetensors"): "an encoder folder from `train export`"}


def find_image_files(folder: Path) -> tuple[list[str], list[BadImage]]:
    """The image files below ``folder``, sorted, and the other files passed over, each
    ``BadImage`` (links to folders are not followed, so a link loop cannot trap it). Hidden files
    and folders are passed over too: macOS's ``._NAME.jpg`` companions, ``.ipynb_checkpoints``;
    and so are folders below ``folder`` that siamkit wrote (``WRITTEN_BY_SIAMKIT``)."""
    images, skipped = [], []
    for root, folders, names in os.walk(folder):
        kept = []
        for name in folders:
            why = "a hidden folder" if is_hidden(name) else written_by_siamkit(os.path.join(root, name))
            if why:
                skipped.append(BadImage(_printable(os.path.join(root, name)), f"{why}, passed over with all "
                                        "it holds"))
            else:
                kept.append(name)
        folders[:] = kept
        for name in names:
            path = os.path.join(root, name)
            problem = _not_an_image_file(path)
            (skipped.append(BadImage(_printable(path), problem)) if problem else images.append(path))
    return sorted(images), sorted(skipped, key=lambda entry: entry.file)


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def written_by_siamkit(folder: str | Path) -> str | None:
    """What siamkit wrote ``folder`` as, by ``WRITTEN_BY_SIAMKIT``; None for any other folder."""
    for names, what in WRITTEN_BY_SIAMKIT.items():
        if all(os.path.isfile(os.path.join(folder, name)) for name in names):
            return what
    return None


def _printable(path: str) -> str:
    """A path as text that any file or page can hold (bytes that are not UTF-8 become U+FFFD)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _not_an_image_file(path: str) -> str | None:
    name = os.path.basename(path)
    if is_hidden(name):
        return "a hidden file (its name starts with '.')"
    if "\n" in name or "\r" in name:
        return "its file name has a line break, which lists of file names cannot hold: rename it"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "its file name is not valid UTF-8, which lists of file names cannot hold: rename it"
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return f"broken link or link loop ({error.strerror})"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    suffix = Path(path).suffix.lower()
    if suffix in (".heic", ".heif"):
        return f"a {suffix[1:].upper()} photo, which Pillow cannot read: convert it to JPEG (heif-convert)"
    if suffix not in IMAGE_SUFFIXES:
        return f"not an image file type ({suffix or 'no suffix'})"
    return None
