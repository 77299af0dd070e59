"""PDQ (Meta's perceptual hash for near-duplicate matching, 2019): a 256-bit hash of the
DCT of a 64x64 luminance image, computed by the ``pdqhash`` package (bindings to Meta's
reference implementation in ThreatExchange). Images compare as 1 - Hamming distance / 256;
Meta's suggested match distance is 31 bits or fewer, a similarity of at least 0.879.

``pdq:dihedral`` also matches an image rotated by 90, 180 or 270 degrees or mirrored: each
image keeps the hashes of its eight orientations, and two images compare by the best of one's
upright hash against the other's eight, both ways.

An image with too little detail (flat, a few pixels, a one-pixel strip) hashes to nearly the
same bits as every other such image; PDQ's quality (0-100, how much of the image has
gradients) says so, and duplicate finding compares no image below ``MIN_QUALITY`` (Meta's
vPDQ compares no frame below 50).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from siamkit.scoring.base import Scorer
from siamkit.scoring.phash import bit_agreement
from siamkit.scoring.registry import register_scorer

MIN_QUALITY = 50


@register_scorer("pdq", presets={"dihedral": {"dihedral": True}})
@dataclass(frozen=True)
class PDQScorer(Scorer):
    """1 - Hamming distance / 256, in 0..1.

    Args:
        dihedral: match any of the eight rotations / mirror images too.
    """

    dihedral: bool = False
    name: str = "pdq"

    @property
    def match_similarity(self) -> float:
        """A default duplicate threshold: Meta's match distance, 31 differing bits of 256."""
        return 1 - 31 / 256

    def features(self, image: np.ndarray) -> np.ndarray:
        """(256,) bool, or (8, 256) with ``dihedral`` (upright first)."""
        return self.checked_features(image)[0]

    def checked_features(self, image: np.ndarray) -> tuple[np.ndarray, Optional[str]]:
        """``features``, and why the image has too little detail to hash (None when it has enough)."""
        import pdqhash

        image = np.ascontiguousarray(image)
        if self.dihedral:
            hashes, quality = pdqhash.compute_dihedral(image)
            return np.stack(hashes).astype(bool), detail_problem(quality)
        bits, quality = pdqhash.compute(image)
        return bits.astype(bool), detail_problem(quality)

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.compare_block([a], [b])[0, 0])

    def compare_many(self, a: Sequence[Any], b: Sequence[Any]) -> np.ndarray:
        return np.array([self.compare(x, y) for x, y in zip(a, b)])

    def compare_block(self, rows: Sequence[Any], columns: Sequence[Any]) -> np.ndarray:
        rows, columns = np.stack(rows), np.stack(columns)
        if not self.dihedral:
            return bit_agreement(rows, columns)
        best = bit_agreement(rows[:, 0], columns[:, 0])
        for k in range(1, 8):
            best = np.maximum(best, bit_agreement(rows[:, 0], columns[:, k]))
            best = np.maximum(best, bit_agreement(rows[:, k], columns[:, 0]))
        return best

    def compare_matrix(self, features: Sequence[Any]) -> np.ndarray:
        return self.compare_block(features, features)


def detail_problem(quality: int) -> Optional[str]:
    """Why an image of this PDQ quality cannot be hashed usefully, or None."""
    if quality >= MIN_QUALITY:
        return None
    return f"too little detail to hash (PDQ quality {quality} of 100, below {MIN_QUALITY}: flat or tiny)"


def pdq_detail_problem(image: np.ndarray) -> Optional[str]:
    import pdqhash

    return detail_problem(pdqhash.compute(np.ascontiguousarray(image))[1])
