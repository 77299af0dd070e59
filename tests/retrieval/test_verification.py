"""SIFT re-check of candidate pairs: edited copies confirmed, unrelated photographs and
degenerate match sets not."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
from PIL import Image
from skimage import data

from siamkit.retrieval.verification import (
    DEFAULT_MIN_MATCHES,
    MAX_SCALE_CHANGE,
    MIN_SHARE,
    agreeing_matches,
    verified_matches,
)


@pytest.fixture(scope="module")
def edited(tmp_path_factory) -> list[str]:
    """A region of the astronaut photograph; it cropped, turned 30 degrees and shrunk; it
    mirrored; and an unrelated photograph."""
    folder = tmp_path_factory.mktemp("verification")
    region = data.astronaut()[:256, 100:356]
    copy = A.Compose([A.Crop(30, 20, 230, 220), A.Rotate(limit=(30, 30), p=1), A.Resize(150, 150)])
    images = {"original": region, "edited": copy(image=region)["image"], "mirrored": region[:, ::-1],
              "unrelated": data.coffee()[:256, 100:356]}
    paths = []
    for name, image in images.items():
        Image.fromarray(np.ascontiguousarray(image)).save(folder / f"{name}.png")
        paths.append(str(folder / f"{name}.png"))
    return paths


def test_copies_are_confirmed_and_an_unrelated_photograph_is_not(edited):
    matches = verified_matches(np.array([[0, 1], [0, 2], [0, 3], [1, 3]]), edited, edited, num_workers=0)
    assert matches[0] >= 3 * DEFAULT_MIN_MATCHES and matches[1] >= 3 * DEFAULT_MIN_MATCHES
    assert matches[2] < DEFAULT_MIN_MATCHES and matches[3] < DEFAULT_MIN_MATCHES


def test_blocks_of_few_images_give_the_same_counts(edited, monkeypatch):
    from siamkit.retrieval import verification

    pairs = np.array([[0, 1], [2, 3], [0, 2], [1, 3], [0, 3]])
    whole = verified_matches(pairs, edited, edited, num_workers=0)
    monkeypatch.setattr(verification, "BLOCK_IMAGES", 2)
    assert verification._blocks([(edited[i], edited[j]) for i, j in pairs]) == [[0], [1], [2], [3], [4]]
    np.testing.assert_array_equal(verified_matches(pairs, edited, edited, num_workers=0), whole)


def _keypoints(points: np.ndarray, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points.astype(np.float32), np.clip(descriptors, 0, 255).astype(np.uint8)


def test_many_keypoints_matching_one_count_once():
    """Twenty keypoints of a that all find b's first keypoint: a transform shrinking a onto that
    point would fit every match, were the matches not made one-to-one first."""
    rng = np.random.default_rng(0)
    target = rng.integers(50, 200, 128)
    a = _keypoints(rng.uniform(0, 200, (20, 2)), target + rng.integers(-1, 2, (20, 128)))
    b = _keypoints(np.array([[50.0, 50.0], [10.0, 10.0]]), np.stack([target, target + 40]))
    assert agreeing_matches(a, b) == 0


@pytest.mark.parametrize("scale, agreeing", [(0.5, True), (0.5 / MAX_SCALE_CHANGE, False)])
def test_a_transform_may_change_scale_only_so_much(scale, agreeing):
    rng = np.random.default_rng(1)
    points, descriptors = rng.uniform(0, 400, (30, 2)), rng.integers(0, 256, (30, 128))
    a = _keypoints(points, descriptors)
    b = _keypoints(points * scale + 7, descriptors)
    assert agreeing_matches(a, b) == (30 if agreeing else 0)


def test_a_few_agreeing_among_many_matches_are_a_coincidence():
    """30 matches on one shift; with 10 more scattered at random they are still most of the
    matches, with 60 more they are not."""
    rng = np.random.default_rng(2)
    for scattered, agreeing in [(10, True), (60, False)]:
        assert (30 / (30 + scattered) >= MIN_SHARE) == agreeing
        count = 30 + scattered
        points, descriptors = rng.uniform(0, 400, (count, 2)), rng.integers(0, 256, (count, 128))
        moved = points + 5
        moved[30:] = rng.uniform(0, 400, (scattered, 2))
        assert agreeing_matches(_keypoints(points, descriptors), _keypoints(moved, descriptors)) == (
            30 if agreeing else 0)


def test_a_flat_photograph_and_its_crop_are_confirmed_and_other_flat_regions_are_not(tmp_path):
    """Regions of the moon have almost no keypoints at SIFT's default contrast threshold; the
    verifier's lower one finds enough to confirm a copy without confirming the moon elsewhere."""
    moon = np.stack([data.moon()] * 3, axis=-1)
    regions = [np.asarray(Image.fromarray(moon[y:y + 128, x:x + 128]).resize((256, 256), Image.BICUBIC))
               for y, x in [(256, 256), (128, 256), (256, 384), (384, 384)]]
    crop = A.Compose([A.Crop(20, 30, 220, 230), A.Resize(180, 180)])
    images = [regions[0], crop(image=regions[0])["image"], *regions[1:]]
    paths = []
    for k, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{k}.png")
        paths.append(str(tmp_path / f"{k}.png"))
    pairs = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [2, 3]])
    matches = verified_matches(pairs, paths, paths, num_workers=0)
    assert matches[0] >= 3 * DEFAULT_MIN_MATCHES
    assert (matches[1:] < DEFAULT_MIN_MATCHES).all()
