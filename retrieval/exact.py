"""The cheapest stage of duplicate finding: files with the same bytes, and images that decode
to the same pixels (a PNG and its lossless re-encoding, a copy with other metadata), found by
hashing before any model runs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from siamkit.data.images import load_image
from siamkit.errors import ImageLoadError
from siamkit.retrieval.workers import map_files


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


def find_exact_duplicates(paths: list[str], num_workers: int = 2) -> ExactDuplicates:
    """Digests of each file's bytes and decoded pixels (in ``num_workers`` processes), then
    each image is matched to the first with the same bytes, or failing that the same pixels."""
    first_file, first = np.arange(len(paths)), np.arange(len(paths))
    unreadable: dict[int, str] = {}
    by_bytes: dict[bytes, int] = {}
    by_pixels: dict[bytes, int] = {}
    for i, (file_digest, pixel_digest, error) in enumerate(map_files(_digests, paths, num_workers,
                                                                     "exact duplicates")):
        if file_digest is not None and file_digest in by_bytes:
            first_file[i] = by_bytes[file_digest]
            first[i] = first[first_file[i]]
        elif file_digest is not None:
            by_bytes[file_digest] = i
            if pixel_digest is not None:
                first[i] = by_pixels.setdefault(pixel_digest, i)
        if error:
            unreadable[i] = error
    return ExactDuplicates(first_file, first, unreadable)


def _digests(path: str) -> tuple[bytes | None, bytes | None, str]:
    """(sha256 of the file's bytes, of its decoded pixels, why either is missing)."""
    try:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
    except OSError as error:
        return None, None, f"cannot read {path}: {error.strerror}"
    try:
        pixels = load_image(path)
    except ImageLoadError as error:
        return digest.digest(), None, str(error)
    shape = str(pixels.shape).encode()
    return digest.digest(), hashlib.sha256(np.ascontiguousarray(pixels).tobytes() + shape).digest(), ""
