"""Local-feature matching: SIFT (Lowe 2004) and ORB (Rublee et al. 2011).

Keypoints and descriptors are each image's features (computed once per image); two images
are compared by nearest-neighbour matching with Lowe's ratio test, optionally keeping only
the matches consistent with one RANSAC homography, which makes the score robust to crops,
rotation and rescaling (the second stage of copy-detection systems).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

import cv2
import numpy as np

from siamkit.errors import ConfigError
from siamkit.scoring.base import Scorer
from siamkit.scoring.registry import register_scorer

_MIN_HOMOGRAPHY_MATCHES = 4
_MIN_SIDE = 2  # pixels; no keypoint fits in a thinner image


PRESETS: dict[str, dict[str, Any]] = {"ransac": dict(ransac=True)}


@register_scorer("orb", presets=PRESETS, detector="orb")
@register_scorer("sift", presets=PRESETS, detector="sift")
@dataclass(frozen=True)
class KeypointScorer(Scorer):
    """Share of keypoints that find a match: matches / min(keypoints of A, keypoints of B),
    in 0..1. An image with fewer than two keypoints (blank, tiny) scores 0 against anything.

    Args:
        detector: "sift" (float descriptors, L2) or "orb" (binary, Hamming; free and fast).
        max_keypoints: keep the strongest N per image.
        ratio: Lowe's ratio test threshold (best distance < ratio x second best).
        ransac: count only the inliers of a RANSAC homography (needs >= 4 matches).
        ransac_threshold: reprojection error in pixels for an inlier.
        max_side: downscale images whose longer side exceeds this (None keeps the size).
        contrast_threshold: SIFT's threshold on a keypoint's contrast (OpenCV's default 0.04);
            lower finds keypoints in flat images too.
    """

    detector: Literal["sift", "orb"] = "sift"
    max_keypoints: int = 1000
    ratio: float = 0.75
    ransac: bool = False
    ransac_threshold: float = 5.0
    max_side: Optional[int] = 1024
    contrast_threshold: float = 0.04
    name: str = "sift"

    def __post_init__(self) -> None:
        if self.detector not in ("sift", "orb"):
            raise ConfigError(f"keypoint detector {self.detector!r} is unknown; choose sift or orb")
        if not 0 < self.ratio <= 1:
            raise ConfigError(f"ratio must be in (0, 1], not {self.ratio}")
        if self.contrast_threshold < 0:
            raise ConfigError(f"contrast_threshold must be >= 0, not {self.contrast_threshold}")
        if self.max_keypoints < 1:  # OpenCV would read 0 as "all" for SIFT, and find none for ORB
            raise ConfigError(f"max_keypoints must be a whole number >= 1, not {self.max_keypoints}")
        if self.max_side is not None and self.max_side < 1:
            raise ConfigError(f"max_side must be a number of pixels >= 1 or None (the image's own), not "
                              f"{self.max_side}")
        if not self.ransac_threshold > 0:
            raise ConfigError(f"ransac_threshold must be a number of pixels > 0, not {self.ransac_threshold}")

    def _detector(self) -> cv2.Feature2D:
        if self.detector == "sift":
            return cv2.SIFT_create(nfeatures=self.max_keypoints, contrastThreshold=self.contrast_threshold)
        return cv2.ORB_create(nfeatures=self.max_keypoints)

    def features(self, image: np.ndarray) -> Any:
        """(points (K, 2) float32, descriptors (K, F) or None)."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if self.max_side and max(gray.shape) > self.max_side:
            scale = self.max_side / max(gray.shape)
            size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        if min(gray.shape) < _MIN_SIDE:  # ORB's image pyramid fails on a one-pixel side
            return np.empty((0, 2), np.float32), None
        keypoints, descriptors = self._detector().detectAndCompute(gray, None)
        points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
        return points, descriptors

    def compare(self, a: Any, b: Any) -> float:
        (points_a, desc_a), (points_b, desc_b) = a, b
        if desc_a is None or desc_b is None or len(desc_a) < 2 or len(desc_b) < 2:
            return 0.0
        if len(desc_a) > len(desc_b):  # query with the smaller set, so the score is symmetric in size
            (points_a, desc_a), (points_b, desc_b) = (points_b, desc_b), (points_a, desc_a)
        norm = cv2.NORM_L2 if self.detector == "sift" else cv2.NORM_HAMMING
        matches = cv2.BFMatcher(norm).knnMatch(desc_a, desc_b, k=2)
        good = [m for m,
                n in (pair for pair in matches if len(pair) == 2) if m.distance < self.ratio * n.distance]
        count = len(good)
        if self.ransac:
            count = self._inliers(points_a, points_b, good)
        return count / len(desc_a)

    def _inliers(self, points_a: np.ndarray, points_b: np.ndarray, good: list) -> int:
        if len(good) < _MIN_HOMOGRAPHY_MATCHES:
            return 0
        source = points_a[[m.queryIdx for m in good]]
        target = points_b[[m.trainIdx for m in good]]
        homography, mask = cv2.findHomography(source, target, cv2.RANSAC, self.ransac_threshold)
        return 0 if homography is None else int(mask.sum())
