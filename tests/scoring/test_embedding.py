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
