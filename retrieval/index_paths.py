"""Image paths inside an index folder (``files.txt``, the skipped images and the encoder in
``index.json``, the journal of a run under way) are stored relative to that folder when they lie
below its parent (``project/photos`` beside ``project/index``), so a project moved whole still
holds together and an index answers from any working folder; a path elsewhere (``/data/photos``)
is stored absolute, so it holds while the data stays where it is. In memory, paths are as this
process reaches them: the index folder as it was named, joined with the stored path. Two
spellings of one file (``photos/a.jpg``, ``/data/photos/a.jpg``) compare equal through
``same_file``.
"""

from __future__ import annotations

import os
from pathlib import Path

_ABOVE_THE_PARENT = os.path.join(os.pardir, os.pardir)


def stored(path: str, folder: Path) -> str:
    target = os.path.abspath(path)
    relative = os.path.relpath(target, os.path.abspath(folder))
    return target if relative.startswith(_ABOVE_THE_PARENT) else relative


def reached(stored_path: str, folder: Path) -> str:
    return os.path.normpath(os.path.join(folder, stored_path))


def same_file(path: str) -> str:
    """A key equal for every spelling of one path (no file-system calls: links stay apart)."""
    return os.path.abspath(path)
