from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from siamkit.errors import ConfigError
from siamkit.scoring.registry import get_scorer


def article_ssim(image1: np.ndarray, image2: np.ndarray) -> float:
    """The seed article's code on RGB arrays: second resized to the first, grayscale, skimage."""
    image2 = cv2.resize(image2, (image1.shape[1], image1.shape[0]), interpolation=cv2.INTER_AREA)
    gray1, gray2 = cv2.cvtColor(image1, cv2.COLOR_RGB2GRAY), cv2.cvtColor(image2, cv2.COLOR_RGB2GRAY)
    return structural_similarity(gray1, gray2, full=True)[0]


def test_seed_preset_equals_scikit_image(photos):
    scorer = get_scorer("ssim:seed")
    for a, b in itertools.product(photos.values(), repeat=2):  # different sizes: b is resized to a
        assert scorer.score(a, b) == pytest.approx(article_ssim(a, b), abs=1e-4)


def test_fixed_size_is_symmetric_and_reuses_features(photos):
    scorer = get_scorer("ssim", size=64)
    images = list(photos.values())
    matrix = scorer.score_matrix(images)
    np.testing.assert_allclose(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-6)
    assert matrix[0, 1] == pytest.approx(scorer.score(images[0], images[1]))


@pytest.mark.parametrize("method", ["ssim", "ssim:seed"])
def test_tiny_grayscale_and_rgba_images_get_a_defined_score(method):
    scorer = get_scorer(method)
    rng = np.random.default_rng(0)
    tiny = rng.integers(0, 256, (3, 2, 3), dtype=np.uint8)
    gray = Image.fromarray(rng.integers(0, 256, (40, 30), dtype=np.uint8), "L")
    rgba = Image.fromarray(rng.integers(0, 256, (30, 40, 4), dtype=np.uint8), "RGBA")
    for a, b in [(tiny, tiny), (tiny, gray), (gray, rgba), (np.zeros((1, 1, 3), np.uint8), rgba)]:
        assert -1.0 <= scorer.score(a, b) <= 1.0
    assert scorer.score(tiny, tiny) == pytest.approx(1.0, abs=1e-6)


def test_window_must_be_odd():
    with pytest.raises(ConfigError, match="odd"):
        get_scorer("ssim", win_size=6)
