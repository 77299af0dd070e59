"""Verification and retrieval metrics, computed the same way for every method.

Verification (labelled pairs; scores higher = more similar): ROC-AUC, average precision,
equal error rate, TPR at a fixed false-match rate, recall at 90 % precision, and accuracy /
F1 at a threshold chosen on another split. Over labelled pairs, average precision is DISC21's
µAP when the pairs are query / reference pairs. scikit-learn computes the curves; bootstrap
resampling of the pairs gives 95 % confidence intervals.

Retrieval (class-labelled images): recall@k (a same-class image among the k nearest
others), precision@1, mAP@R (Musgrave, Belongie, Lim 2020, "A Metric Learning Reality
Check") and µAP (every image a query against all the others, as DISC21 pools predictions),
from similarity rows computed in chunks so memory stays bounded.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

FMR_TARGETS = (0.01, 0.001)
#: Below this many matches or non-matches a bootstrap interval shows less uncertainty than there
#: is (the percentile bootstrap's known small-sample fault; 30 is the usual rule of thumb)
FEW_PAIRS = 30
#: A gap in cosine between the val pairs' scores around the chosen threshold wide enough to say
LOOSE_THRESHOLD = 0.05


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The error rate where the false-match rate equals the false-non-match rate."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = np.nanargmin(np.abs(fnr - fpr))
    return float((fpr[i] + fnr[i]) / 2)


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, target: float) -> float:
    """The highest true-match rate with a false-match rate of at most ``target``."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= target].max(initial=0.0))


def recall_at_precision(labels: np.ndarray, scores: np.ndarray, precision: float = 0.9) -> float:
    """The highest true-match rate at which at least ``precision`` of the pairs called matches are."""
    precisions, recalls, _ = precision_recall_curve(labels, scores)
    return float(recalls[precisions >= precision].max(initial=0.0))


def measurable_fmr_targets(labels: np.ndarray) -> tuple[float, ...]:
    """The ``FMR_TARGETS`` that the pairs' non-matches can measure. With fewer than 1 / target
    of them, no false match fits under the target, and the true-match rate there is the one at
    a false-match rate of 0, whatever the target: a column that repeated it under another name
    would claim a precision the pairs do not have."""
    return tuple(t for t in FMR_TARGETS if _measures(_non_matches(labels), t))


def pair_count_notes(labels: np.ndarray) -> list[str]:
    """What the number of pairs leaves unsaid, a sentence each: too few for the intervals, and
    the TPR@FPR targets too few non-matches cannot measure."""
    return [note for note in (few_pairs_note(labels), unmeasured_fmr_note(labels)) if note]


def few_pairs_note(labels: np.ndarray) -> str | None:
    matches, non_matches = int(np.sum(np.asarray(labels) == 1)), _non_matches(labels)
    if min(matches, non_matches) >= FEW_PAIRS:
        return None
    return (f"Only {matches:,} matches and {non_matches:,} non-matches: with fewer than {FEW_PAIRS} of "
            "either, a bootstrap interval shows less uncertainty than there is (scores that tell every "
            "pair apart give 1.000-1.000), and so do the verdicts built on them; evaluate on more pairs "
            "(`train copies` makes some)")


def unmeasured_fmr_note(labels: np.ndarray) -> str | None:
    """Which TPR@FPR targets the pairs cannot measure, and why, in a sentence; None where all can."""
    left_out = [t for t in FMR_TARGETS if t not in measurable_fmr_targets(labels)]
    if not left_out:
        return None
    return (f"TPR@FPR {' and '.join(map(_percent, left_out))} left out: these pairs hold "
            f"{_non_matches(labels):,} non-matches, and {_takes(left_out[0])}"
            + "".join(f" ({_percent(t)}: {_needed(t):,})" for t in left_out[1:]))


def unmeasured_rule_note(labels: np.ndarray, rule: str) -> str | None:
    """Where a threshold rule ``fmr=X`` asks for a false-match rate that the val pairs' non-matches
    cannot measure, what the threshold then is, in a sentence; None otherwise."""
    if not rule.startswith("fmr="):
        return None
    target = float(rule.split("=", 1)[1])
    if _measures(_non_matches(labels), target):
        return None
    return (f"--threshold {rule}: the val pairs hold {_non_matches(labels):,} non-matches, and "
            f"{_takes(target)}, so the threshold is the lowest that passes none of them")


def _non_matches(labels: np.ndarray) -> int:
    return int(np.sum(np.asarray(labels) == 0))


def _needed(rate: float) -> int:
    """The fewest non-matches that can show a false-match rate of ``rate``: one false match."""
    return int(np.ceil(1 / rate))


def _measures(non_matches: int, rate: float) -> bool:
    return non_matches >= _needed(rate)


def _percent(rate: float) -> str:
    return f"{rate * 100:g}%"


def _takes(rate: float) -> str:
    return f"a false-match rate of {_percent(rate)} takes at least {_needed(rate):,} to measure"


def verification_metrics(labels: np.ndarray) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """Each verification metric the pairs of ``labels`` can measure, by name."""
    return {
        "roc_auc": roc_auc_score,
        "average_precision": average_precision_score,
        "eer": equal_error_rate,
        **{f"tpr@fpr={t:g}": (lambda labels, scores, t=t: tpr_at_fpr(labels, scores, t))
           for t in measurable_fmr_targets(labels)},
        "recall@precision=0.9": recall_at_precision,
    }


def choose_threshold(labels: np.ndarray, scores: np.ndarray, rule: str) -> float:
    """A decision threshold (score >= threshold: same) by ``rule``: ``best_f1``, or
    ``fmr=X`` (the lowest threshold whose false-match rate is at most X)."""
    if rule == "best_f1":
        candidates = np.unique(scores)
        f1 = [_f1(labels, scores >= c) for c in candidates]
        return float(candidates[int(np.argmax(f1))])
    target = float(rule.split("=", 1)[1])
    negatives = np.sort(scores[labels == 0])[::-1]
    allowed = int(np.floor(target * len(negatives)))  # false matches permitted
    if allowed >= len(negatives):
        return float(negatives[-1]) if len(negatives) else float(scores.min())
    return float(np.nextafter(negatives[allowed], np.inf))


def score_below(scores: np.ndarray, threshold: float) -> float | None:
    """The highest score below ``threshold``: every threshold above it, up to ``threshold``,
    decides those pairs alike. None where no score is below."""
    below = np.asarray(scores)[np.asarray(scores) < threshold]
    return float(below.max()) if len(below) else None


def loose_threshold_note(rule: str, threshold: float, below: float | None, pairs: int) -> str | None:
    """Where ``best_f1`` kept a threshold that the val pairs would have let sit much lower (a wide
    gap between their scores: few pairs, or easily told ones), that range and what to do, in a
    sentence; None otherwise."""
    if rule != "best_f1" or below is None or threshold - below < LOOSE_THRESHOLD:
        return None
    return (f"best_f1: every threshold from above {below:.4f} to {threshold:.4f} decides these {pairs:,} val "
            "pairs alike, and the highest was kept; pairs unlike them can score in between, so calibrate "
            "on more val pairs, or on a false-match rate (--threshold fmr=X)")


def false_match_rate(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float | None:
    """The share of the non-matches scored at or above ``threshold``; None where there are none."""
    different = scores[labels == 0]
    return float(np.mean(different >= threshold)) if len(different) else None


def let_through(rate: float | None) -> str:
    """``false_match_rate`` as a calibration's message says it ("" where there were no non-matches)."""
    return "" if rate is None else f"; {rate:.1%} of their non-matches at or above it"


def _f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    true_positive = np.sum(predicted & (labels == 1))
    denominator = predicted.sum() + (labels == 1).sum()
    return float(2 * true_positive / denominator) if denominator else 0.0


def at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = scores >= threshold
    return {"accuracy": float(np.mean(predicted == (labels == 1))), "f1": _f1(labels, predicted),
            "false_match_rate": float(predicted[labels == 0].mean()) if (labels == 0).any() else float("nan"),
            "true_match_rate": float(predicted[labels == 1].mean()) if (labels == 1).any() else float("nan")}


def bootstrap_draws(labels: np.ndarray, count: int, seed: int) -> Iterator[np.ndarray]:
    """Up to ``count`` resamples of the pairs (indices, drawn with replacement), the same ones for
    every method given the same seed; a draw with one class only is passed over (it has no curve)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        pick = rng.integers(0, len(labels), len(labels))
        if labels[pick].min() != labels[pick].max():
            yield pick


def interval(samples: Sequence[float]) -> list[float]:
    """The 95 % percentile interval of bootstrap samples; NaN without any."""
    return np.percentile(samples, [2.5, 97.5]).tolist() if len(samples) else [float("nan")] * 2


def verification(labels: np.ndarray, scores: np.ndarray, bootstrap: int = 200, seed: int = 0
                 ) -> dict[str, dict[str, float | list[float]]]:
    """Each metric's value and bootstrap 95 % interval: ``{name: {"value", "ci95": [lo, hi]}}``."""
    labels, scores = np.asarray(labels), np.asarray(scores, np.float64)
    measured = verification_metrics(labels)
    samples: dict[str, list[float]] = {name: [] for name in measured}
    for pick in bootstrap_draws(labels, bootstrap, seed):
        for name, metric in measured.items():
            samples[name].append(metric(labels[pick], scores[pick]))
    result = {}
    for name, metric in measured.items():
        result[name] = {"value": float(metric(labels, scores)), "ci95": interval(samples[name])}
    return result


def retrieval(row_scores: Callable[[slice], np.ndarray], labels: np.ndarray, ks: Sequence[int] = (1, 5, 10),
              chunk: int = 1024) -> dict[str, float]:
    """recall@k, precision@1 and mAP@R. ``row_scores(rows)`` gives the (len(rows), N)
    similarities of those images to all N; each image is left out of its own neighbours. An
    image alone in its class has nothing to find and is no query (as mAP@R and
    pytorch-metric-learning's AccuracyCalculator leave such "lone" queries out)."""
    labels = np.asarray(labels)
    n = len(labels)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    same_class = counts[inverse] - 1  # relevant items per query (R)
    depth = int(min(n - 1, max(max(ks), same_class.max(initial=0))))
    hits_at = {k: 0 for k in ks}
    average_precisions, pooled_scores, pooled_relevant = [], [], []
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        scores = np.array(row_scores(rows), dtype=np.float64)
        scores[np.arange(scores.shape[0]), np.arange(rows.start, rows.stop)] = -np.inf
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth] if depth < n else np.argsort(-scores,
                                                                                                  axis=1)
        order = np.take_along_axis(top,
                                   np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable"), 1)
        relevant = labels[order] == labels[rows, None]
        pooled_scores.append(np.take_along_axis(scores, order, 1).ravel())
        pooled_relevant.append(relevant.ravel())
        for k in ks:
            hits_at[k] += int(relevant[:, :k].any(1).sum())  # a lone image has no relevant one to hit
        for i, r in enumerate(same_class[rows]):
            if r == 0:
                continue
            hits = relevant[i, :r]
            precision = np.cumsum(hits) / np.arange(1, r + 1)
            average_precisions.append(float((precision * hits).sum() / r))
    queries = int((same_class > 0).sum())
    result = {f"recall@{k}": hits_at[k] / queries if queries else float("nan") for k in ks}
    result["precision@1"] = result.get("recall@1", float("nan"))
    result["map@r"] = float(np.mean(average_precisions)) if average_precisions else float("nan")
    result["micro_ap"] = micro_average_precision(np.concatenate(pooled_scores),
                                                 np.concatenate(pooled_relevant),
                                                 int(same_class.sum()))
    return result


def micro_average_precision(scores: np.ndarray, relevant: np.ndarray, total_relevant: int) -> float:
    """µAP as DISC21 reports it: every query's predictions pooled and ranked by score across
    queries, average precision over that one list, with recall counted against all
    ``total_relevant`` true query / reference matches (matches never predicted count as missed)."""
    if total_relevant == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = relevant[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / total_relevant)

