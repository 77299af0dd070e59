"""Structural similarity (SSIM, Wang et al. 2004) on grayscale images.

The ``seed`` preset is the seed article's code: the second image resized to the first
(``cv2.INTER_AREA``), grayscale, scikit-image's ``structural_similarity`` defaults (7x7
uniform window, sample covariance, K1 0.01, K2 0.03, data range 255, the mean over the
image less a 3-pixel border). It computes the same value, faster (docs/benchmarks.md):
OpenCV box filters instead of SciPy's, float32 on grey values centred at 0 (which keeps
the variance terms exact enough), and in-place arithmetic on the cropped region only.

With ``size`` set, both images are resized to size x size and each image's window means
are computed once and reused across every pair it takes part in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import cv2
import numpy as np

from siamkit.errors import ConfigError
from siamkit.scoring.base import Scorer
from siamkit.scoring.registry import register_scorer

_F = np.float32
_K1, _K2, _RANGE = 0.01, 0.03, 255.0


PRESETS: dict[str, dict[str, Any]] = {"seed": dict(size=None, win_size=7)}


@register_scorer("ssim", presets=PRESETS)
@dataclass(frozen=True)
class SSIMScorer(Scorer):
    """Mean SSIM in -1..1 (1 = identical).

    Args:
        size: resize both images to size x size; None resizes the second image to the first
            (the article's way, not symmetric, nothing reusable between pairs). The default,
            64, is the size that separated matches best on ``demo:photos`` among 64, 128,
            256 and the article's way, and the cheapest: SSIM's 7-pixel windows on a
            thumbnail see structure, not JPEG noise.
        win_size: odd side of the uniform window. Images smaller than the window are
            enlarged (nearest neighbour) to the window's size, so tiny images get a score.
    """

    size: Optional[int] = 64
    win_size: int = 7
    name: str = "ssim"

    def __post_init__(self) -> None:
        if self.win_size < 3 or self.win_size % 2 == 0:
            raise ConfigError(f"ssim win_size must be an odd number >= 3, not {self.win_size}")
        if self.size is not None and self.size < self.win_size:
            raise ConfigError(f"ssim size {self.size} is smaller than its window ({self.win_size})")
        object.__setattr__(self, "symmetric", self.size is not None)

    def features(self, image: np.ndarray) -> Any:
        if self.size is None:  # the article resizes in colour, then converts: keep the colour image
            return image
        gray = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (self.size, self.size),
                          interpolation=cv2.INTER_AREA)
        return _window_stats(gray, self.win_size)

    def compare(self, a: Any, b: Any) -> float:
        if self.size is not None:
            return _ssim(a, b, self.win_size)
        if b.shape != a.shape:
            b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
        a, b = (_at_least(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), self.win_size) for image in (a, b))
        return _ssim(_window_stats(a, self.win_size), _window_stats(b, self.win_size), self.win_size)


def _at_least(gray: np.ndarray, side: int) -> np.ndarray:
    height, width = gray.shape
    if min(height, width) >= side:
        return gray
    scale = side / min(height, width)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_NEAREST)


def _window_stats(gray: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centred image, window means, window means of squares), all float32 (H, W)."""
    centred = np.subtract(gray, _F(128), dtype=_F)
    box = (win, win)
    return (centred, cv2.blur(centred, box, borderType=cv2.BORDER_REFLECT),
            cv2.sqrBoxFilter(centred, -1, box, borderType=cv2.BORDER_REFLECT))


def _ssim(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...], win: int) -> float:
    """scikit-image's formula with sample covariance, averaged away from the border (where
    the filters' border handling does not matter)."""
    (x, ux, uxx), (y, uy, uyy) = a, b
    pad = (win - 1) // 2
    inner = (slice(pad, x.shape[0] - pad), slice(pad, x.shape[1] - pad))
    uxy = cv2.blur(x * y, (win, win), borderType=cv2.BORDER_REFLECT)[inner]
    ux, uy, uxx, uyy = ux[inner].copy(), uy[inner].copy(), uxx[inner].copy(), uyy[inner]
    cov_norm = _F(win * win / (win * win - 1))
    c1, c2 = _F((_K1 * _RANGE) ** 2), _F((_K2 * _RANGE) ** 2)
    # in place, to keep the temporaries (and the time) down: uxy -> covariance term,
    # uxx -> variance term, t -> numerator, ux -> denominator
    t = np.multiply(ux, uy)
    uxy -= t
    np.multiply(ux, ux, out=t)
    uxx -= t
    np.multiply(uy, uy, out=t)
    uxx += uyy
    uxx -= t
    ux += _F(128)
    uy += _F(128)
    np.multiply(ux, uy, out=t)
    t *= _F(2)
    t += c1
    uxy *= _F(2) * cov_norm
    uxy += c2
    t *= uxy
    ux *= ux
    uy *= uy
    ux += uy
    ux += c1
    uxx *= cov_norm
    uxx += c2
    ux *= uxx
    t /= ux
    return float(np.clip(t.mean(dtype=np.float64), -1.0, 1.0))  # float32 rounding can overshoot 1 by ~1e-7
