"""The embedding scorer on an encoder folder."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from siamkit.scoring.embedding import EmbeddingScorer
from siamkit.scoring.registry import get_scorer


def test_embedding_scorer_from_an_python_encoder(python_encoder: Path, photos):
    scorer = get_scorer(str(python_encoder))
    assert isinstance(scorer, EmbeddingScorer)
    images = list(photos.values())
    matrix = scorer.score_matrix(images)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-5)
    pairs = scorer.score_pairs(list(itertools.product(images, repeat=2)))
    np.testing.assert_allclose(matrix.ravel(), pairs, atol=1e-5)
    assert scorer.score(images[0], images[1]) == pytest.approx(matrix[0, 1], abs=1e-5)


def test_score_normalisation_subtracts_each_images_kth_background_similarity(python_encoder: Path, photos):
    images, background = list(photos.values())[:2], list(photos.values())[1:] + [np.zeros((30, 30, 3),
                                                                                          np.uint8)]
    plain = get_scorer(str(python_encoder))
    normalised = get_scorer(str(python_encoder), background=background, background_k=2)
    a, b = plain.features_many(images)
    similarities = plain.features_many(background) @ np.stack([a, b]).T  # (background, 2)
    second_best = np.sort(similarities, axis=0)[-2]
    expected = a @ b - second_best.sum() / 2
    assert normalised.score(images[0], images[1]) == pytest.approx(expected, abs=1e-5)
    np.testing.assert_allclose(normalised.score_matrix(images)[0, 1], expected, atol=1e-5)
    assert normalised.threshold is None  # a cosine threshold does not apply to normalised scores
