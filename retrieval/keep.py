"""Which image of a duplicate group to keep: ``largest`` (most pixels, then most bytes),
``oldest`` (earliest modification time) or ``first`` (first by path). Ties fall to the first
path, so the choice is the same on every run."""

from __future__ import annotations

import datetime
import os
from typing import Literal

from PIL import Image

KeepPolicy = Literal["largest", "oldest", "first"]


def choose_kept(files: list[str], policy: KeepPolicy) -> tuple[int, str]:
    """(position in ``files`` of the image to keep, why)."""
    order = sorted(range(len(files)), key=lambda k: files[k])
    if policy == "first":
        return order[0], "first: first by path"
    if policy == "oldest":
        best = min(order, key=lambda k: os.stat(files[k]).st_mtime)
        modified = datetime.datetime.fromtimestamp(os.stat(files[best]).st_mtime)
        return best, f"oldest: modified {modified.isoformat(timespec='seconds')}"
    sizes = {k: (_size(files[k]), os.path.getsize(files[k])) for k in order}
    best = min(order, key=lambda k: (-sizes[k][0][0] * sizes[k][0][1], -sizes[k][1]))
    (width, height), size = sizes[best]
    return best, f"largest: {width}x{height} px, {size:,} bytes"


def _size(path: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except OSError:
        return 0, 0
