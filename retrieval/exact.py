"""The cheapest stage of duplicate finding: files with the same bytes, and images that decode
to the same pixels (a PNG and its lossless re-encoding, a copy with other metadata), found by
hashing before any model runs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from tqdm import tqdm

from siamkit.data.images import load_image
from siamkit.errors import ImageLoadError


@dataclass
class ExactDuplicates:
    """Per image: ``first_file[i]``, the first image with image i's bytes; ``first[i]``, the
    first with its pixels (its "picture"); ``unreadable``: {index: error}."""

    first_file: np.ndarray
    first: np.ndarray
    unreadable: dict[int, str]

    def pictures(self, indices: Iterable[int]) -> dict[int, list[int]]:
        """{picture: its images among ``indices``}, readable images only, in order."""
        out: dict[int, list[int]] = {}
        for i in indices:
            if i not in self.unreadable:
                out.setdefault(int(self.first[i]), []).append(int(i))
        return out

    def how(self, i: int, j: int) -> str:
        """How images i and j of one picture are the same."""
        return "same bytes" if self.first_file[i] == self.first_file[j] else "same pixels"


def find_exact_duplicates(paths: list[str]) -> ExactDuplicates:
    """Hashes each file's bytes, then the decoded pixels of the files whose bytes are new."""
    first_file, first = np.arange(len(paths)), np.arange(len(paths))
    unreadable: dict[int, str] = {}
    by_bytes: dict[bytes, int] = {}
    by_pixels: dict[bytes, int] = {}
    for i, path in enumerate(tqdm(paths, desc="exact duplicates", unit="img", leave=False, disable=None)):
        try:
            digest = _file_digest(path)
        except OSError as error:
            unreadable[i] = f"cannot read {path}: {error.strerror}"
            continue
        if digest in by_bytes:
            original = by_bytes[digest]
            first_file[i], first[i] = original, first[original]
            if original in unreadable:
                unreadable[i] = unreadable[original]
            continue
        by_bytes[digest] = i
        try:
            pixels = load_image(path)
        except ImageLoadError as error:
            unreadable[i] = str(error)
            continue
        key = hashlib.sha256(np.ascontiguousarray(pixels).tobytes() + str(pixels.shape).encode()).digest()
        first[i] = by_pixels.setdefault(key, i)
    return ExactDuplicates(first_file, first, unreadable)


def _file_digest(path: str) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()
