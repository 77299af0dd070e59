"""The report's plots."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from siamkit.evaluation.report import plot_distributions
from siamkit.evaluation.runner import MethodResult


def test_rare_matches_are_drawn_as_shares_of_their_kind(tmp_path, monkeypatch):
    """Ten matches beside a thousand non-matches had bars a hundredth as tall: unseen."""
    drawn = []
    original = Axes.hist
    monkeypatch.setattr(Axes, "hist", lambda self, x, **kwargs: drawn.append((len(x), kwargs)) or original(
        self, x, **kwargs))
    labels = np.array([1] * 10 + [0] * 1000)
    scores = np.random.default_rng(0).random(len(labels))
    plot_distributions(tmp_path / "scores.png", labels, [MethodResult("m", {}, scores, 0.5)])
    assert [(count, kwargs["label"]) for count, kwargs in drawn] == [(10, "matches (10)"),
                                                                      (1000, "non-matches (1,000)")]
    assert np.allclose([kwargs["weights"].sum() for _, kwargs in drawn], 1.0)
    assert (tmp_path / "scores.png").stat().st_size > 0
