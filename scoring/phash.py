"""Perceptual hashing (pHash): the industry's standard near-duplicate baseline.

``imagehash.phash``: the top-left (low-frequency) DCT coefficients of a 32x32 grayscale
thumbnail, thresholded at their median; two images compare as 1 - Hamming distance / bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import imagehash
import numpy as np
import scipy.fftpack  # noqa: F401  imagehash imports it on its first hash; here it is not timed as scoring
from PIL import Image

from siamkit.errors import ConfigError
from siamkit.scoring.base import Scorer
from siamkit.scoring.registry import register_scorer


@register_scorer("phash")
@dataclass(frozen=True)
class PHashScorer(Scorer):
    """1 - Hamming distance / bits, in 0..1.

    Args:
        hash_size: the hash has hash_size^2 bits (8 -> 64).
    """

    hash_size: int = 8
    name: str = "phash"

    @property
    def match_similarity(self) -> float:
        """A default duplicate threshold: imagededup's, 10 differing bits of 64."""
        return 1 - 10 / 64

    def __post_init__(self) -> None:
        if self.hash_size < 2:
            raise ConfigError(f"phash hash_size must be >= 2, not {self.hash_size}")

    def features(self, image: np.ndarray) -> np.ndarray:
        """(hash_size^2,) bool."""
        return imagehash.phash(Image.fromarray(image), hash_size=self.hash_size).hash.ravel()

    def checked_features(self, image: np.ndarray) -> tuple[np.ndarray, Optional[str]]:
        """``features``, and why the image has too little detail to hash (PDQ's quality says)."""
        from siamkit.scoring.pdq import pdq_detail_problem

        return self.features(image), pdq_detail_problem(image)

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        return 1.0 - np.count_nonzero(a != b) / a.size

    def compare_block(self, rows: Sequence[Any], columns: Sequence[Any]) -> np.ndarray:
        return bit_agreement(np.stack(rows), np.stack(columns))

    def compare_matrix(self, features: Sequence[Any]) -> np.ndarray:
        return self.compare_block(features, features)


def bit_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(R, C) share of equal bits, 1 - Hamming distance / bits, of (R, B) and (C, B) bit rows."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    differing = a @ (1 - b).T + (1 - a) @ b.T
    return 1.0 - differing.astype(np.float64) / a.shape[1]
