from __future__ import annotations

import cv2
import numpy as np
import pytest

from siamkit.errors import ConfigError
from siamkit.scoring.keypoints import KeypointScorer
from siamkit.scoring.registry import get_scorer


def rotated_crop(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 15, 1.1)
    return cv2.warpAffine(image, rotation, (width, height))[10:-10, 10:-10]


@pytest.mark.parametrize("method", ["sift", "sift:ransac", "orb", "orb:ransac"])
def test_a_transformed_copy_beats_another_photo(photos, method):
    scorer = get_scorer(method)
    a = photos["astronaut"]
    assert scorer.score(a, a) == pytest.approx(1.0)
    assert scorer.score(a, rotated_crop(a)) > 2 * scorer.score(a, photos["coffee"])


@pytest.mark.parametrize("method", ["sift", "orb:ransac"])
def test_images_without_keypoints_score_zero(photos, method):
    scorer = get_scorer(method)
    blank, tiny = np.full((64, 64, 3), 128, np.uint8), np.zeros((2, 3, 3), np.uint8)
    assert scorer.score(blank, photos["astronaut"]) == 0.0
    assert scorer.score(tiny, tiny) == 0.0
    for one_pixel_side in (np.zeros((1, 1, 3), np.uint8), photos["astronaut"][:1],
                           photos["astronaut"][:, :1]):
        assert scorer.score(one_pixel_side, photos["astronaut"]) == 0.0


def test_matrix_reuses_features_and_matches_pairs(photos):
    scorer = get_scorer("sift")
    images = list(photos.values())
    matrix = scorer.score_matrix(images)
    assert matrix[1, 2] == pytest.approx(scorer.score(images[1], images[2]))
    np.testing.assert_allclose(np.diag(matrix), 1.0)


@pytest.mark.parametrize("setting", [{"ratio": 0.0}, {"ratio": 1.5}, {"contrast_threshold": -0.01},
                                     {"detector": "surf"}, {"max_keypoints": 0}, {"max_side": 0},
                                     {"ransac_threshold": -1.0}])  # the last three scored 0 or all
def test_bad_settings_are_refused(setting):
    with pytest.raises(ConfigError, match=next(iter(setting))):
        KeypointScorer(**setting)
