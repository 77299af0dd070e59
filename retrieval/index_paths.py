"""Image paths inside an index folder (``files.txt``, the skipped images in ``index.json``, the
journal of a run under way) are stored relative to that folder, so an index answers from any
working folder and still holds when the index and its images move together. In memory they
are paths as this process reaches them: the index folder as it was named, joined with the
stored path. Two spellings of one file (``photos/a.jpg``, ``/data/photos/a.jpg``) compare equal
through ``same_file``.
"""

from __future__ import annotations

import os
from pathlib import Path


def stored(path: str, folder: Path) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(folder))


def reached(stored_path: str, folder: Path) -> str:
    return os.path.normpath(os.path.join(folder, stored_path))


def same_file(path: str) -> str:
    """A key equal for every spelling of one path (no file-system calls: links stay apart)."""
    return os.path.abspath(path)
