"""Files with the same bytes, found by reading only files of equal size: how a split keeps copies
of one file together, and how `train evaluate` finds a model's training images among others."""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Sequence

import numpy as np

#: How much of each file of a shared size is read first: different photographs of one size
#: differ within it, so only true copies are read whole.
PREFIX_BYTES = 16 * 1024


def first_with_same_bytes(paths: Sequence[str]) -> np.ndarray:
    """Per path, the index of the first of ``paths`` with the same bytes (its own index where no
    earlier one has them, and for a file that cannot be read, which the image check reports).
    Only files of a shared size are read, and whole only where their first bytes agree too."""
    first = np.arange(len(paths))
    by_size: dict[int, list[int]] = {}
    for i, path in enumerate(paths):
        if (size := _size(path)) is not None:
            by_size.setdefault(size, []).append(i)
    for same_size in by_size.values():
        if len(same_size) < 2:
            continue
        by_prefix: dict[bytes, list[int]] = {}
        for i in same_size:
            by_prefix.setdefault(_digest(paths[i], PREFIX_BYTES), []).append(i)
        for same_prefix in by_prefix.values():
            by_digest: dict[bytes, int] = {}
            for i in same_prefix if len(same_prefix) > 1 else []:  # a lone prefix has no copy
                first[i] = by_digest.setdefault(_digest(paths[i]), i)
    return first


def later_copies(paths: Sequence[str]) -> np.ndarray:
    """Per path, whether an earlier one of ``paths`` has its bytes: keeping the others keeps one of
    each file."""
    return first_with_same_bytes(paths) != np.arange(len(paths))


def same_files(paths: list[str], others: list[str]) -> list[tuple[str, str]]:
    """(path, other) for each of ``paths`` with the same bytes as one of ``others``; only files of
    equal size are read."""
    by_size: dict[int | None, list[str]] = {}
    for other in others:
        by_size.setdefault(_size(other), []).append(other)
    by_size.pop(None, None)
    found = []
    for path in paths:
        candidates = by_size.get(_size(path), [])
        if candidates:
            digests = {_digest(other): other for other in candidates}
            if (match := digests.get(_digest(path))) is not None:
                found.append((path, match))
    return found


def _size(path: str) -> int | None:
    """The size of a regular file; None for anything else (a named pipe would block a read),
    which the image check then reports."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_size if stat.S_ISREG(found.st_mode) else None


def _digest(path: str, length: int | None = None) -> bytes:
    """sha256 of the file's bytes, or of its first ``length`` bytes."""
    try:
        with open(path, "rb") as handle:
            if length is not None:
                return hashlib.sha256(handle.read(length)).digest()
            return hashlib.file_digest(handle, "sha256").digest()
    except OSError:  # unreadable: a digest of its own, and the image check says why
        return path.encode()
