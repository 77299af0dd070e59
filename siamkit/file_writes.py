"""Files written so that a failure part-way (a full disk, Ctrl-C) leaves what was there before,
and so that a full disk says so.

``write_whole``: a file that replaces an earlier one (an encoder folder's card, an index's
record) is written aside and moved into place, as opening it for writing empties it at once.
``written_together``: so are a report's files, together, so that an earlier report is never
left mixed with part of a new one (and `train copies`' table and images, so that an interrupted
run leaves its folder empty). ``made_whole``: an encoder folder appears, or replaces an earlier
one, only once complete.

``write_npy``: numpy's own writer (``np.save``, ``ndarray.tofile``) reports a short write as an
``OSError`` without an errno ("22272 requested and 15328 written"), which cannot be told from a
bug; a memory map filled on a full disk ends the process with SIGBUS. Python's file writes raise
``OSError(ENOSPC)``, which the command line turns into one line saying the disk is full.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

#: the folder inside a report's folder where ``written_together`` writes
STAGING = ".siamkit-writing"


def write_npy(path: Path, shape: tuple[int, ...], dtype: np.dtype | type,
              chunks: Iterable[np.ndarray]) -> None:
    """Writes an ``.npy`` file of ``shape`` and ``dtype`` from ``chunks``: consecutive row blocks
    (a whole array is one), so an array larger than memory can be written a block at a time."""
    dtype = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, header)
        for chunk in chunks:
            file.write(np.ascontiguousarray(chunk, dtype).data)


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` of one array, through ``write_npy``."""
    write_npy(path, array.shape, array.dtype, [array])


def write_whole(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` whole, or leaves ``path`` as it was (another process writing
    it at the same time writes a partial file of its own: the last to finish wins, whole)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def written_together(folder: Path) -> Iterator[Path]:
    """A folder to write files into, which replace their namesakes in ``folder`` only once all of
    them are written; a failure part-way leaves ``folder`` as it was. It lies inside ``folder``,
    where this process can write and a rename moves nothing."""
    staging = folder / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # left by a process that was killed
    staging.mkdir(parents=True)
    try:
        yield staging
        for file in staging.iterdir():
            os.replace(file, folder / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def made_whole(folder: Path) -> Iterator[Path]:
    """A folder to make ``folder`` in, which takes its place (replacing any there) only once it is
    complete: a failure or Ctrl-C part-way leaves neither a half-made ``folder`` nor the staging.
    Where ``folder`` is a link, the folder it leads to is made anew and the link stays."""
    target = folder.resolve()
    if target.is_dir() and (target.is_mount() or not os.access(target.parent, os.W_OK)):
        with _made_inside(target) as staging:
            yield staging
        return
    staging = target.parent / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # left by a process that was killed
    staging.mkdir(parents=True)
    try:
        yield staging
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def _made_inside(target: Path) -> Iterator[Path]:
    """``made_whole`` for a folder that cannot be renamed over (a mount point: a container's volume)
    or made beside (its parent cannot be written): made inside it, then its files moved up in place
    of the earlier ones."""
    with written_together(target) as staging:
        yield staging
        for earlier in target.iterdir():
            if earlier == staging:
                continue
            if earlier.is_dir() and not earlier.is_symlink():
                shutil.rmtree(earlier)
            else:
                earlier.unlink()
