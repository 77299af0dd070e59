"""Which image of a duplicate group to keep: ``largest`` (most pixels, then most bytes),
``oldest`` (earliest modification time) or ``first`` (first by path). Ties fall to the first
path, so the choice is the same on every run."""

from __future__ import annotations

import os
from typing import Callable, Literal

from PIL import Image

KeepPolicy = Literal["largest", "oldest", "first"]


def choose_kept(files: list[str], policy: KeepPolicy) -> tuple[int, str]:
    """(position in ``files`` of the image to keep, why)."""
    order = sorted(range(len(files)), key=lambda k: files[k])
    key, describe = _POLICIES[policy]
    best = min(order, key=lambda k: key(files[k]))
    return best, f"{policy}: {describe(files[best])}"


def _pixels(path: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
    except OSError:
        width = height = 0
    return width * height, os.path.getsize(path)


def _size_text(path: str) -> str:
    try:
        with Image.open(path) as image:
            width, height = image.size
    except OSError:
        return "unreadable size"
    return f"{width}x{height} px, {os.path.getsize(path):,} bytes"


_POLICIES: dict[str, tuple[Callable[[str], object], Callable[[str], str]]] = {
    "largest": (lambda path: tuple(-value for value in _pixels(path)), _size_text),
    "oldest": (lambda path: os.stat(path).st_mtime, lambda path: f"modified {_mtime_text(path)}"),
    "first": (lambda path: path, lambda path: "first by path"),
}


def _mtime_text(path: str) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(os.stat(path).st_mtime).isoformat(timespec="seconds")
