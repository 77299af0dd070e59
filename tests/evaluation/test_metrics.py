"""Metrics against values worked out by hand on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.evaluation import metrics

LABELS = np.array([1, 1, 1, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.05])


def test_equal_error_rate_and_tpr_at_fpr():
    # threshold 0.75: FMR 0/4, FNMR 1/3; threshold 0.65: FMR 1/4, FNMR 1/3
    # -> closest point EER = (1/4 + 1/3) / 2
    assert metrics.equal_error_rate(LABELS, SCORES) == pytest.approx((0.25 + 1 / 3) / 2)
    assert metrics.tpr_at_fpr(LABELS, SCORES, 0.0) == pytest.approx(2 / 3)  # above 0.7: two of three matches
    assert metrics.tpr_at_fpr(LABELS, SCORES, 0.2) == pytest.approx(2 / 3)
    assert metrics.tpr_at_fpr(LABELS, SCORES, 0.25) == pytest.approx(1.0)  # one non-match (0.7) above 0.3


def test_thresholds_and_decisions():
    threshold = metrics.choose_threshold(LABELS, SCORES, "fmr=0.0")
    assert 0.7 < threshold <= 0.8  # just above the highest non-match
    assert metrics.choose_threshold(LABELS, SCORES, "best_f1") == pytest.approx(0.3)  # F1 6/7 (0.8 gives 4/5)
    decided = metrics.at_threshold(LABELS, SCORES, 0.3)
    assert decided == pytest.approx({"accuracy": 6 / 7, "f1": 6 / 7, "false_match_rate": 0.25,
                                     "true_match_rate": 1.0})


def test_verification_intervals_contain_the_value():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = labels + rng.normal(0, 0.8, 300)
    result = metrics.verification(labels, scores, bootstrap=100)
    for name, entry in result.items():
        low, high = entry["ci95"]
        assert low <= entry["value"] <= high, name
    assert 0.7 < result["roc_auc"]["value"] < 0.9


@pytest.mark.parametrize("non_matches, measured", [(99, ()), (100, (0.01,)), (999, (0.01,)),
                                                   (1000, (0.01, 0.001))])
def test_a_false_match_rate_is_reported_only_where_the_non_matches_can_measure_it(non_matches, measured):
    labels = np.array([0] * non_matches + [1] * 50)
    scores = np.random.default_rng(0).normal(size=len(labels)) + labels
    assert metrics.measurable_fmr_targets(labels) == measured
    rates = {key for key in metrics.verification(labels, scores, bootstrap=3) if key.startswith("tpr@")}
    assert rates == {f"tpr@fpr={t:g}" for t in measured}
    note = metrics.unmeasured_fmr_note(labels)
    assert (note is None) == (len(measured) == 2)
    if note:
        assert f"these pairs hold {non_matches} non-matches" in note


def test_too_few_pairs_for_the_intervals_are_said_in_the_summary():
    from siamkit.evaluation.report import markdown_summary
    from siamkit.evaluation.runner import MethodResult

    labels = np.array([1, 1, 0, 0])
    result = metrics.verification(labels, np.array([0.9, 0.8, 0.2, 0.1]), bootstrap=50)
    assert result["roc_auc"] == {"value": 1.0, "ci95": [1.0, 1.0]}, "the interval the note warns of"
    summary = markdown_summary([MethodResult("histogram", result, np.zeros(4), None)], [], labels)
    assert "Only 2 matches and 2 non-matches: with fewer than 30 of either, a bootstrap interval" in summary
    assert metrics.few_pairs_note(np.array([1] * 30 + [0] * 30)) is None
    assert metrics.pair_count_notes(np.array([1] * 29 + [0] * 1000)) == [metrics.few_pairs_note(
        np.array([1] * 29 + [0] * 1000))]


def test_an_fmr_rule_the_val_pairs_cannot_measure_is_said():
    labels = np.array([0] * 99 + [1] * 10)
    assert metrics.unmeasured_rule_note(labels, "best_f1") is None
    assert metrics.unmeasured_rule_note(labels, "fmr=0.02") is None
    note = metrics.unmeasured_rule_note(labels, "fmr=0.01")
    assert note.startswith("--threshold fmr=0.01: the val pairs hold 99 non-matches") and "least 100" in note
    threshold = metrics.choose_threshold(labels, np.arange(len(labels), dtype=float), "fmr=0.01")
    assert threshold > 98, "what the note says: above every non-match"


def test_a_threshold_the_val_pairs_leave_loose_is_said():
    assert metrics.score_below(SCORES, 0.3) == 0.2  # best_f1's 0.3 decides as any threshold above 0.2 does
    assert metrics.score_below(SCORES, 0.05) is None
    note = metrics.loose_threshold_note("best_f1", 0.3, 0.2, 7)
    assert note.startswith("best_f1: every threshold from above 0.2000 to 0.3000 decides these 7 val pairs "
                           "alike, and the highest was kept")
    assert metrics.loose_threshold_note("best_f1", 0.3, 0.27, 7) is None  # a gap under 0.05
    assert metrics.loose_threshold_note("best_f1", 0.3, None, 7) is None
    assert metrics.loose_threshold_note("fmr=0.01", 0.3, 0.2, 7) is None  # a false-match rate sets it


def test_retrieval_by_hand():
    labels = np.array([0, 0, 1, 1, 1])
    similarity = np.array([
        [1.0, 0.2, 0.9, 0.1, 0.0],   # query 0: nearest is 2 (wrong), then 1 (right): R=1 -> AP@R 0
        [0.2, 1.0, 0.1, 0.0, 0.3],   # query 1: nearest 4 (wrong), then 0: AP@R 0
        [0.9, 0.1, 1.0, 0.8,
         0.7],   # query 2: 0 (wrong), 3, 4: R=2 -> precision at ranks 1, 2 = 0, 1/2 -> AP (0 + 0.5)/2
        [0.1, 0.0, 0.8, 1.0, 0.6],   # query 3: 2, 4 -> AP 1
        [0.0, 0.3, 0.7, 0.6, 1.0],   # query 4: 2, 3 -> AP 1
    ])
    result = metrics.retrieval(lambda rows: similarity[rows], labels, ks=(1, 2), chunk=2)
    assert result["recall@1"] == pytest.approx(2 / 5)
    assert result["recall@2"] == pytest.approx(5 / 5)
    assert result["precision@1"] == pytest.approx(2 / 5)
    assert result["map@r"] == pytest.approx((0 + 0 + 0.25 + 1 + 1) / 5)


def test_an_image_alone_in_its_class_is_no_retrieval_query():
    """It has nothing to find: counted as a miss, it took recall@1 to 4/5 for a perfect ranking,
    where mAP@R left it out."""
    labels = np.array([0, 0, 1, 1, 2])
    same = (labels[:, None] == labels[None, :]).astype(float)
    result = metrics.retrieval(lambda rows: same[rows], labels, ks=(1,))
    assert result["recall@1"] == result["precision@1"] == result["map@r"] == 1.0
    assert np.isnan(metrics.retrieval(lambda rows: np.eye(2)[rows], np.array([0, 1]), ks=(1,))["recall@1"])


def test_recall_at_90_percent_precision():
    # by descending score: match, match, non-match (0.7), match -> precision 1, 1, 2/3, 3/4
    assert metrics.recall_at_precision(LABELS, SCORES, 0.9) == pytest.approx(2 / 3)
    assert metrics.recall_at_precision(LABELS, SCORES, 0.7) == pytest.approx(1.0)  # 3 of 4 at 0.3


def test_micro_average_precision_pools_every_query():
    # pooled predictions by score: hit, miss, hit; 3 true matches, one never predicted
    scores, relevant = np.array([0.9, 0.5, 0.4]), np.array([True, False, True])
    assert metrics.micro_average_precision(scores, relevant, 3) == pytest.approx((1 + 2 / 3) / 3)
    perfect = metrics.retrieval(lambda rows: np.eye(4)[rows] + np.kron(np.eye(2), np.ones((2, 2)))[rows],
                                np.array([0, 0, 1, 1]))
    assert perfect["micro_ap"] == pytest.approx(1.0)
