"""The Scorer interface: how similar are images A and B (higher = more similar).

A method says how to turn one image into features (``features``) and how to compare two
features (``compare``). The base class does the rest the same way for every method:
decoding inputs with ``load_image``, computing each distinct image's features once however
many pairs it takes part in, and the three entry points ``score``, ``score_pairs`` and
``score_matrix``. Methods that can compare many features at once (embeddings, hashes,
histograms) override ``compare_many`` / ``compare_matrix``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any, Iterable, Sequence

import numpy as np

from siamkit.data.images import ImageInput, is_one_image, load_image, refuse_one_image


class Scorer(ABC):
    """Base class. Subclasses set ``name`` and define ``features`` and ``compare``.

    ``symmetric``: whether compare(a, b) == compare(b, a); ``score_matrix`` then compares
    each unordered pair once.
    """

    name: str = ""
    symmetric: bool = True

    @abstractmethod
    def features(self, image: np.ndarray) -> Any:
        """Per-image work on an (H, W, 3) uint8 RGB array."""

    @abstractmethod
    def compare(self, a: Any, b: Any) -> float:
        """Similarity of two images' features."""

    def features_many(self, images: Sequence[ImageInput]) -> list[Any]:
        return [self.features(load_image(image)) for image in images]

    def compare_many(self, a: Sequence[Any], b: Sequence[Any]) -> np.ndarray:
        """(P,) similarities of a[i] and b[i]."""
        return np.array([self.compare(x, y) for x, y in zip(a, b)], dtype=np.float64)

    def compare_block(self, rows: Sequence[Any], columns: Sequence[Any]) -> np.ndarray:
        """(len(rows), len(columns)) similarities: retrieval scores a chunk of queries at a time."""
        return np.array([[self.compare(r, c) for c in columns] for r in rows], dtype=np.float64).reshape(
            len(rows), len(columns))

    def compare_matrix(self, features: Sequence[Any]) -> np.ndarray:
        """(N, N) similarities of every pair of features."""
        n = len(features)
        matrix = np.empty((n, n), dtype=np.float64)
        for i in range(n):
            for j in range(i if self.symmetric else 0, n):
                matrix[i, j] = self.compare(features[i], features[j])
                if self.symmetric:
                    matrix[j, i] = matrix[i, j]
        return matrix

    # --- entry points --------------------------------------------------------------

    def score(self, a: ImageInput, b: ImageInput) -> float:
        """Similarity of one pair."""
        features = self.features_many([a, b])
        return float(self.compare(features[0], features[1]))

    def score_pairs(self, pairs: Iterable[tuple[ImageInput, ImageInput]]) -> np.ndarray:
        """(P,) similarities; an image in several pairs is decoded and featurised once."""
        pairs = [pairs] if is_one_image(pairs) else list(pairs)
        keys: dict[Any, int] = {}
        images: list[ImageInput] = []
        index_pairs = []
        for number, pair in enumerate(pairs):
            if is_one_image(pair) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise ValueError(f"score_pairs takes a sequence of (a, b) pairs; item {number} is "
                                 f"{str(pair)[:80]!r}: pass [(a, b), ...], or score one pair with "
                                 "score(a, b)")
            index_pairs.append(tuple(_index(image, keys, images) for image in pair))
        features = self.features_many(images)
        return self.compare_many([features[i] for i, _ in index_pairs], [features[j] for _, j in index_pairs])

    def score_matrix(self, images: Sequence[ImageInput]) -> np.ndarray:
        """(N, N) similarities of every pair among ``images``, each image featurised once."""
        refuse_one_image(images, "score_matrix")
        return self.compare_matrix(self.features_many(list(images)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _index(image: ImageInput, keys: dict[Any, int], images: list[ImageInput]) -> int:
    """Position of ``image`` in ``images``, appending it when new. Paths are the same image
    when their strings are; other inputs when they are the same object."""
    key = os.fspath(image) if isinstance(image, (str, os.PathLike)) else id(image)
    if key not in keys:
        keys[key] = len(images)
        images.append(image)
    return keys[key]
