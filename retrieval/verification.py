"""Geometric verification of candidate pairs, the second stage of copy-detection systems.

A pair is a copy when enough SIFT matches (Lowe 2004: ratio test) agree on one similarity
transform (shift, turn, uniform scale: what crops, rotations and resizing do), found by RANSAC.
The score is the number of agreeing matches, which unlike a share of keypoints does not fall
for a busy image. Three guards keep unrelated images from agreeing: matches are one-to-one
(many keypoints of a flat image otherwise all land on one point, and a transform that shrinks
everything to that point "agrees" with all of them), the transform may change scale by at most
``MAX_SCALE_CHANGE``, RANSAC's tolerance is a few pixels, and most matches must agree
(``MIN_SHARE``: lines of text or a texture let a few matches agree by chance among many).
Each image is also matched as its mirror image, since SIFT descriptors are not mirror-invariant.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from siamkit.data.images import load_image
from siamkit.progress import progress_bar
from siamkit.retrieval.workers import map_files
from siamkit.scoring.keypoints import KeypointScorer

#: A low contrast threshold finds keypoints in flat images (a sky, a silhouette), where the default
#: finds almost none; the strongest 400 keep matching cheap. On edited copies of the demo's
#: training photographs this confirms 0.893 of copies instead of 0.860 (8 agreeing matches), and none
#: of 6,000 pairs of different regions of the same photographs instead of 2
#: (scripts/bench_duplicates.py builds that set)
_SIFT = KeypointScorer(detector="sift", max_keypoints=400, contrast_threshold=0.005)
RATIO = 0.75
TOLERANCE_PX = 4.0
MAX_SCALE_CHANGE = 8.0
#: A copy's matches nearly all agree (edited copies of the demo's training photographs: 0.91 or
#: more for nine in ten), a coincidence's few among many (0.59 or less for nine in ten: lines of
#: text, textures); chosen there (scripts/bench_duplicates.py builds that set)
MIN_SHARE = 0.7
#: agreeing matches that confirm a pair by default: precision 0.9996 on that set even with
#: candidates as loose as pdq:dihedral 0.56
DEFAULT_MIN_MATCHES = 10
#: images whose keypoints are held at once (2 x 1,000 x 128 bytes each)
BLOCK_IMAGES = 2000
#: fewer matches than this cannot pin down a similarity transform with any support
_MIN_MATCHES = 3

Keypoints = tuple[np.ndarray, Optional[np.ndarray]]  # (K, 2) positions, (K, 128) uint8 descriptors


def keypoints(path: str) -> tuple[Keypoints, Keypoints]:
    """SIFT keypoints of an image and of its mirror image (the strongest 400, larger images
    shrunk to 1,024 px first)."""
    image = load_image(path, draft_size=_SIFT.max_side)  # a large JPEG decodes at a fraction of its size
    return _as_bytes(_SIFT.features(image)), _as_bytes(_SIFT.features(np.ascontiguousarray(image[:, ::-1])))


def _as_bytes(found: Keypoints) -> Keypoints:
    points, descriptors = found
    if descriptors is not None:  # SIFT's values lie in 0..255: bytes hold them in a quarter of the memory
        descriptors = descriptors.round().astype(np.uint8)
    return points, descriptors


def agreeing_matches(a: Keypoints, b: Keypoints) -> int:
    """How many one-to-one ratio-test matches of ``a`` in ``b`` fit one similarity transform;
    0 unless they are at least ``MIN_SHARE`` of the matches."""
    (points_a, descriptors_a), (points_b, descriptors_b) = a, b
    if descriptors_a is None or descriptors_b is None or min(len(descriptors_a), len(descriptors_b)) < 2:
        return 0
    best: dict[int, cv2.DMatch] = {}  # per keypoint of b, its closest match from a
    # OpenCV's L2 matching of float32 runs about 6x faster than of the stored bytes
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(descriptors_a.astype(np.float32),
                                              descriptors_b.astype(np.float32), k=2)
    for pair in knn:
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance:
            match = pair[0]
            if match.trainIdx not in best or match.distance < best[match.trainIdx].distance:
                best[match.trainIdx] = match
    if len(best) < _MIN_MATCHES:
        return 0
    source = points_a[[m.queryIdx for m in best.values()]]
    target = points_b[list(best)]
    transform, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC,
                                                     ransacReprojThreshold=TOLERANCE_PX)
    if transform is None:
        return 0
    scale = np.sqrt(abs(np.linalg.det(transform[:, :2])))
    agreeing = int(inliers.sum())
    if not 1 / MAX_SCALE_CHANGE < scale < MAX_SCALE_CHANGE or agreeing < MIN_SHARE * len(best):
        return 0
    return agreeing


def verified_matches(pairs: np.ndarray, files_a: list[str], files_b: list[str],
                     num_workers: int = 2) -> np.ndarray:
    """(P,) agreeing matches of each pair (i, j) of ``files_a[i]`` and ``files_b[j]`` (the more of
    ``files_b[j]`` as it is and mirrored). Pairs go in blocks of at most ``BLOCK_IMAGES``
    images, whose keypoints are computed in ``num_workers`` processes and dropped after the
    block, so memory stays bounded however many pairs there are."""
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))  # a block then holds few distinct images
    named = [(files_a[i], files_b[j]) for i, j in pairs[order]]
    counts = np.zeros(len(pairs), np.int64)
    with progress_bar(total=len(pairs), desc="SIFT re-check", unit="pair", leave=False) as bar:
        for block in _blocks(named):
            paths = sorted({path for k in block for path in named[k]})
            found = dict(zip(paths, map_files(keypoints, paths, num_workers, "SIFT keypoints")))
            for k in block:
                (plain_a, _), (plain_b, mirrored_b) = (found[path] for path in named[k])
                counts[order[k]] = max(agreeing_matches(plain_a, plain_b),
                                       agreeing_matches(plain_a, mirrored_b))
            bar.update(len(block))
    return counts


def _blocks(pair_paths: list[tuple[str, str]]) -> list[list[int]]:
    """Consecutive runs of pair positions, each touching at most ``BLOCK_IMAGES`` images."""
    blocks, current, seen = [], [], set()
    for k, (a, b) in enumerate(pair_paths):
        if len(seen) + (a not in seen) + (b not in seen and b != a) > BLOCK_IMAGES:
            blocks.append(current)
            current, seen = [], set()
        current.append(k)
        seen.update((a, b))
    return blocks + [current] if current else blocks


def confirmed(pairs: np.ndarray, files_a: list[str], files_b: list[str], min_matches: int,
              num_workers: int = 2) -> np.ndarray:
    """(P,) bool: pairs with at least ``min_matches`` agreeing SIFT matches."""
    return verified_matches(pairs, files_a, files_b, num_workers) >= min_matches

