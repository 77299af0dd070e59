"""Cosine similarity of learned embeddings: an exported encoder, a training checkpoint, or
an open_clip model as it comes (the seed article's CLIP score)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from siamkit.data.images import ImageInput
from siamkit.scoring.base import Scorer


class EmbeddingScorer(Scorer):
    """Cosine similarity in -1..1 of L2-normalised embeddings; images are embedded in batches.

    Args:
        encoder: a ``siamkit.models.encoder.Encoder``.
        name: how results name this method (default: the encoder's source).
        batch_size: images per forward pass.
    """

    def __init__(self, encoder: Any, name: str = "embedding", batch_size: int = 64):
        self.encoder = encoder
        self.name = name
        self.batch_size = batch_size

    @property
    def threshold(self) -> float | None:
        """The encoder's calibrated same / different threshold, if evaluation set one."""
        return self.encoder.threshold

    def features(self, image: np.ndarray) -> np.ndarray:
        return self.encoder.embed([image], batch_size=1)[0]

    def features_many(self, images: Sequence[ImageInput]) -> np.ndarray:
        return self.encoder.embed(images, batch_size=self.batch_size)

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b)

    def compare_many(self, a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
        return np.einsum("ij,ij->i", np.asarray(a, np.float64), np.asarray(b, np.float64))

    def compare_block(self, rows: Sequence[np.ndarray], columns: Sequence[np.ndarray]) -> np.ndarray:
        return np.asarray(rows, np.float64) @ np.asarray(columns, np.float64).T

    def compare_matrix(self, features: Sequence[np.ndarray]) -> np.ndarray:
        return self.compare_block(features, features)
