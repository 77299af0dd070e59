"""Did training pay off: paired differences of ROC-AUC, by hand and where side-by-side intervals
cannot tell."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from siamkit.evaluation import metrics
from siamkit.evaluation.comparisons import BEST_CLASSICAL, START, Comparison, compare, paired_difference
from siamkit.evaluation.report import comparison_table
from siamkit.evaluation.runner import MethodResult


def _hard_pairs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs whose difficulty both methods share: the better one adds a small margin to every
    match, so it wins on each resample while both methods' own intervals are wide."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([1, 0], 60)
    reference = labels * 0.5 + rng.normal(0, 1, len(labels))
    return labels, reference + 0.25 * labels, reference


def test_the_difference_and_its_interval_come_from_the_same_resamples_for_both_methods():
    labels, better, reference = _hard_pairs()
    difference, (low, high) = paired_difference(labels, better, reference, bootstrap=50, seed=3)
    assert difference == pytest.approx(roc_auc_score(labels, better) - roc_auc_score(labels, reference))
    by_hand = [roc_auc_score(labels[p], better[p]) - roc_auc_score(labels[p], reference[p])
               for p in metrics.bootstrap_draws(labels, 50, 3)]
    assert (low, high) == pytest.approx(tuple(np.percentile(by_hand, [2.5, 97.5])))


def test_a_gain_hidden_by_overlapping_intervals_is_found_by_the_paired_one():
    labels, better, reference = _hard_pairs()
    own = [metrics.verification(labels, s, bootstrap=100)["roc_auc"]["ci95"] for s in (better, reference)]
    assert own[0][0] < own[1][1], "side by side, the intervals overlap"
    difference, ci95 = paired_difference(labels, better, reference, bootstrap=200, seed=0)
    assert Comparison("trained", "sift", BEST_CLASSICAL, difference, ci95).verdict == "better"
    assert Comparison("sift", "trained", BEST_CLASSICAL, -difference, (-ci95[1], -ci95[0])).verdict == "worse"


def test_the_same_scores_make_no_difference_and_no_bootstrap_no_interval():
    labels, scores, _ = _hard_pairs()
    assert paired_difference(labels, scores, scores, 100, 0) == (0.0, (0.0, 0.0))
    assert Comparison("a", "b", START, 0.0, (0.0, 0.0)).verdict == "no clear difference"
    difference, ci95 = paired_difference(labels, scores, scores[::-1], 0, 0)
    assert np.isnan(ci95).all()
    assert Comparison("a", "b", START, difference, ci95).verdict == "no interval (--bootstrap 0)"


def _result(name: str, scores: np.ndarray, labels: np.ndarray, val_roc_auc: float | None = None
            ) -> MethodResult:
    on_val = {} if val_roc_auc is None else {"val_roc_auc": val_roc_auc}
    return MethodResult(name, {"roc_auc": {"value": roc_auc_score(labels, scores)}, **on_val}, scores, None)


def test_each_trained_model_against_its_start_and_the_best_classical_method():
    labels, better, reference = _hard_pairs()
    noise = np.random.default_rng(1).normal(size=len(labels))
    results = [_result("model", better, labels), _result("model@start", reference, labels),
               _result("scratch", reference + 0.1 * noise, labels), _result("sift", reference, labels),
               _result("histogram", noise, labels)]
    found = compare(results, labels, {"model": "model@start", "scratch": None}, {"sift", "histogram"}, 20, 0)
    assert [(c.method, c.role, c.against) for c in found] == [("model", START, "model@start"),
                                                              ("model", BEST_CLASSICAL, "sift"),
                                                              ("scratch", BEST_CLASSICAL, "sift")]
    assert compare(results, labels, {"model": None}, set(), 20, 0) == []
    assert {c.chosen_on for c in found} == {None, "test"}  # no val pairs: the best on the evaluated split


def test_the_best_classical_method_is_picked_on_the_val_pairs_not_on_those_it_is_compared_on():
    labels, better, reference = _hard_pairs()
    noise = np.random.default_rng(1).normal(size=len(labels))
    results = [_result("model", better, labels, 0.9), _result("sift", reference, labels, 0.6),
               _result("histogram", noise, labels, 0.7)]  # sift leads on these pairs, histogram on val
    [found] = compare(results, labels, {"model": None}, {"sift", "histogram"}, 20, 0)
    assert (found.against, found.chosen_on) == ("histogram", "val")
    assert comparison_table([found])["rows"][0][1][0] == "the best classical method on val, histogram"


def test_a_bound_that_three_decimals_would_round_to_zero_keeps_its_sign():
    rows = comparison_table([Comparison("m", "s", START, 0.079, (0.0003, 0.164)),
                             Comparison("m", "s", START, -0.05, (-0.12, -0.00004)),
                             Comparison("m", "s", START, 0.0, (0.0, 0.0))])["rows"]
    assert [(cells[1], cells[2]) for _, cells in rows] == [
        ("+0.079 (+0.0003 to +0.164)", "better"), ("-0.050 (-0.120 to -4e-05)", "worse"),
        ("+0.000 (+0.000 to +0.000)", "no clear difference")]
