"""Scoring one method on ``EvaluationData``: in chunks (bounded memory, a progress bar), with
its cost measured, the threshold chosen on the validation pairs and applied unchanged to the
evaluated split."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from siamkit.evaluation import CHUNK, metrics
from siamkit.evaluation.pairs import EvaluationData, Pairs
from siamkit.evaluation.peak_memory import PeakMemory
from siamkit.progress import progress_bar
from siamkit.scoring.base import Scorer


@dataclass
class MethodResult:
    name: str
    metrics: dict[str, Any]
    scores: np.ndarray  # (P,) on the evaluated split's pairs
    threshold: float | None


def score_pairs_in_chunks(scorer: Scorer, pairs: Pairs, chunk: int, desc: str) -> np.ndarray:
    scores = np.empty(len(pairs), np.float64)
    with progress_bar(total=len(pairs), desc=desc, unit="pair", leave=False) as progress:
        for start in range(0, len(pairs), chunk):
            stop = min(len(pairs), start + chunk)
            scores[start:stop] = scorer.score_pairs(list(zip(pairs.a[start:stop], pairs.b[start:stop])))
            progress.update(stop - start)
    return scores


def evaluate_method(scorer: Scorer, data: EvaluationData, threshold_rule: str = "best_f1",
                    bootstrap: int = 200,
                    chunk: int = CHUNK) -> MethodResult:
    """Scores the evaluated split (timed, peak memory sampled) and, when there is one, the
    validation split; the threshold chosen on validation is applied unchanged to the test."""
    test = data.pairs[data.split]
    with PeakMemory() as memory:
        start = time.perf_counter()
        scores = score_pairs_in_chunks(scorer, test, chunk, f"{scorer.name} ({data.split})")
        seconds = time.perf_counter() - start
    result: dict[str, Any] = metrics.verification(test.label, scores, bootstrap, data.splits.seed)
    threshold = None
    if "val" in data.pairs:
        val = data.pairs["val"]
        val_scores = scores if data.split == "val" else score_pairs_in_chunks(scorer, val, chunk,
                                                                              f"{scorer.name} (val)")
        threshold = metrics.choose_threshold(val.label, val_scores, threshold_rule)
        result["threshold"] = {"value": threshold, "rule": threshold_rule, "chosen_on": "val",
                               "same_decisions_above": metrics.score_below(val_scores, threshold),
                               "val_false_match_rate": metrics.false_match_rate(val.label, val_scores,
                                                                                threshold)}
        result["val_roc_auc"] = float(roc_auc_score(val.label, val_scores))  # what picks between methods
        result.update(metrics.at_threshold(test.label, scores, threshold))
    if data.images is not None:
        features = scorer.features_many(list(data.images))
        result.update(metrics.retrieval(lambda rows: scorer.compare_block(features[rows], features),
                                        data.labels))
    result["pairs_per_second"] = len(test) / seconds
    result["peak_memory_mb"] = memory.peak_mb
    return MethodResult(scorer.name, result, scores, threshold)
