"""Did training pay off? Each trained model's ROC-AUC less that of its pretrained start and of
the best classical method, on the same pairs, with a paired bootstrap interval: both methods are
scored on each resample of the pairs, so the interval is the difference's own. Two methods'
intervals side by side overlap long before their difference is in doubt when both find the same
pairs hard."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from siamkit.evaluation.metrics import bootstrap_draws, interval
from siamkit.evaluation.runner import MethodResult

START = "its start"
BEST_CLASSICAL = "the best classical method"


@dataclass(frozen=True)
class Comparison:
    method: str
    against: str
    role: str  # START or BEST_CLASSICAL
    difference: float  # the method's ROC-AUC less the other's
    ci95: tuple[float, float]
    chosen_on: str | None = None  # the split the best classical method was picked on

    @property
    def verdict(self) -> str:
        low, high = self.ci95
        if math.isnan(low):
            return "no interval (--bootstrap 0)"
        return "better" if low > 0 else "worse" if high < 0 else "no clear difference"

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "against": self.against, "role": self.role,
                "roc_auc_difference": self.difference, "ci95": list(self.ci95), "verdict": self.verdict,
                "chosen_on": self.chosen_on}


def paired_difference(labels: np.ndarray, scores: np.ndarray, reference: np.ndarray, bootstrap: int,
                      seed: int) -> tuple[float, tuple[float, float]]:
    """ROC-AUC of ``scores`` less that of ``reference`` on the same pairs, and its 95 % interval."""
    labels = np.asarray(labels)
    picks = list(bootstrap_draws(labels, bootstrap, seed))
    if picks:
        picks = np.stack(picks)
        samples = _roc_aucs(labels[picks], scores[picks]) - _roc_aucs(labels[picks], reference[picks])
    else:
        samples = []
    low, high = interval(samples)
    return float(roc_auc_score(labels, scores) - roc_auc_score(labels, reference)), (low, high)


def _roc_aucs(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row at once, as the Mann-Whitney U of its matches over its non-matches
    (ties count a half, as in sklearn's ROC-AUC): one call for every resample, where
    ``roc_auc_score`` per resample spent a second on 400 calls' checks."""
    ranks = rankdata(scores, axis=1)
    matches = labels == 1
    count = matches.sum(1)
    u = (ranks * matches).sum(1) - count * (count + 1) / 2
    return u / (count * (labels.shape[1] - count))


def compare(results: Sequence[MethodResult], labels: np.ndarray, starts: dict[str, str | None],
            classical: set[str], bootstrap: int, seed: int, split: str = "test") -> list[Comparison]:
    """``starts``: each trained model's name and its start's (None when it has none here);
    ``classical``: the names of the classical methods among ``results``, of which the one with
    the highest ROC-AUC on the val pairs is the reference (on the evaluated ``split`` where there
    are no val pairs): picking it on the pairs it is then compared on would favour whichever
    method those pairs happen to suit."""
    by_name = {r.name: r for r in results}
    baselines = [r for r in results if r.name in classical]
    on_val = all("val_roc_auc" in r.metrics for r in baselines)
    best = max(baselines, key=lambda r: r.metrics["val_roc_auc"] if on_val else r.metrics["roc_auc"]["value"],
               default=None)
    comparisons = []
    for method, start in starts.items():
        for role, other in ((START, by_name.get(start)), (BEST_CLASSICAL, best)):
            if other is None:
                continue
            scores = by_name[method].scores
            comparisons.append(Comparison(method, other.name, role,
                                          *paired_difference(labels, scores, other.scores, bootstrap, seed),
                                          chosen_on=("val" if on_val else split) if role == BEST_CLASSICAL
                                          else None))
    return comparisons
