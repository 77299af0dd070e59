"""Cosine similarity of learned embeddings: an exported encoder, a training checkpoint, or
an open_clip model as it comes (the seed article's CLIP score)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from siamkit.data.images import ImageInput
from siamkit.errors import ConfigError
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


class NormalizedEmbeddingScorer(EmbeddingScorer):
    """Cosine similarity less each image's similarity to its ``k``-th nearest neighbour in a
    background set of unrelated images: ``cos(a, b) - (n_k(a) + n_k(b)) / 2``. SSCD's score
    normalisation (Pizzi et al. 2022), made symmetric: it discounts images that resemble many
    others (textures, skies, blank pages), which otherwise match everything. Scores are no
    longer cosines, so a calibrated cosine threshold does not apply to them.

    Features are the (E,) embedding with ``-n_k / 2`` appended.

    Args:
        background: (M, E) embeddings of the background images, M >= k.
        k: which nearest background neighbour sets the offset.
    """

    def __init__(self, encoder: Any, background: np.ndarray, k: int = 1, name: str = "embedding",
                 batch_size: int = 64):
        super().__init__(encoder, name, batch_size)
        if not 1 <= k <= len(background):
            raise ConfigError(f"score normalisation: k={k} needs at least "
                              f"k background images, not {len(background)}")
        self.background = np.asarray(background, np.float32)
        self.k = k

    @property
    def threshold(self) -> float | None:
        return None

    def features(self, image: np.ndarray) -> np.ndarray:
        return self.features_many([image])[0]

    def features_many(self, images: Sequence[ImageInput]) -> np.ndarray:
        embeddings = super().features_many(images)
        offsets = -0.5 * kth_similarity(embeddings, self.background, self.k)
        return np.concatenate([embeddings, offsets[:, None]], 1)

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.compare_many([a], [b])[0])

    def compare_many(self, a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return np.einsum("ij,ij->i", a[:, :-1], b[:, :-1]) + a[:, -1] + b[:, -1]

    def compare_block(self, rows: Sequence[np.ndarray], columns: Sequence[np.ndarray]) -> np.ndarray:
        rows, columns = np.asarray(rows, np.float64), np.asarray(columns, np.float64)
        return rows[:, :-1] @ columns[:, :-1].T + rows[:, -1:] + columns[None, :, -1]


def kth_similarity(embeddings: np.ndarray, background: np.ndarray, k: int, chunk: int = 4096) -> np.ndarray:
    """(N,) similarity of each embedding to its k-th most similar background embedding."""
    out = np.empty(len(embeddings), np.float64)
    for start in range(0, len(embeddings), chunk):
        similarity = np.asarray(embeddings[start:start + chunk], np.float32) @ background.T
        out[start:start + chunk] = -np.partition(-similarity, k - 1, axis=1)[:, k - 1]
    return out
