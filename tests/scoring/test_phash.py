from __future__ import annotations

import itertools

import imagehash
import numpy as np
import pytest
from PIL import Image

from siamkit.scoring.registry import get_scorer


def test_phash_is_one_minus_hamming_over_bits(photos):
    scorer = get_scorer("phash")
    a, b = photos["astronaut"], photos["coffee"]
    distance = imagehash.phash(Image.fromarray(a)) - imagehash.phash(Image.fromarray(b))
    assert scorer.score(a, b) == pytest.approx(1 - distance / 64)
    assert scorer.score(a, a) == 1.0


def test_vectorised_matrix_equals_pairwise(photos):
    scorer = get_scorer("phash", hash_size=4)
    images = list(photos.values())
    expected = scorer.score_pairs(list(itertools.product(images, repeat=2))).reshape(len(images), -1)
    np.testing.assert_allclose(scorer.score_matrix(images), expected)


def test_tiny_and_grayscale_images():
    scorer = get_scorer("phash")
    gray = Image.fromarray(np.arange(100, dtype=np.uint8).reshape(10, 10), "L")
    assert 0.0 <= scorer.score(np.zeros((1, 1, 3), np.uint8), gray) <= 1.0
