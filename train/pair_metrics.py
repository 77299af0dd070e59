"""ROC-AUC and EER of one stage's pair scores, over an epoch and across processes, and the
recall@1 of class-labelled embeddings.

Both need matches and non-matches. On pairs of one kind alone (one validation batch of a pairs
file that lists its matches first, ``fast_dev_run``) torchmetrics returns 0 for both, an EER of
0 reading as perfect; here they are NaN instead, which checkpointing never takes for a best,
and the first such epoch of a run says why in one line.
"""

from __future__ import annotations

import math

import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import nn
from torchmetrics.aggregation import SumMetric
from torchmetrics.classification import BinaryAUROC, BinaryEER

NAMES = ("roc_auc", "eer")


class PairMetrics(nn.Module):
    def __init__(self, stage: str):
        super().__init__()
        self.stage = stage
        self.roc_auc, self.eer = BinaryAUROC(), BinaryEER()
        self.matches, self.non_matches = SumMetric(), SumMetric()
        self._said_undefined = False

    def update(self, scores: torch.Tensor, labels: torch.Tensor) -> None:
        labels = labels.long()
        self.roc_auc.update(scores.float(), labels)
        self.eer.update(scores.float(), labels)
        self.matches.update(labels.sum())
        self.non_matches.update((1 - labels).sum())

    def compute(self, say_when_undefined: bool = True) -> dict[str, torch.Tensor | float]:
        """Each metric's value over the pairs since the last compute, NaN where they are of one kind."""
        missing = ("non-matches" if self.non_matches.compute() == 0 else
                   "matches" if self.matches.compute() == 0 else None)
        if missing is None:
            values = {"roc_auc": self.roc_auc.compute(), "eer": self.eer.compute()}
        else:
            values = dict.fromkeys(NAMES, math.nan)
            if say_when_undefined and not self._said_undefined:
                self._said_undefined = True
                self._say_undefined(missing)
        for metric in (self.roc_auc, self.eer, self.matches, self.non_matches):
            metric.reset()
        return values

    def _say_undefined(self, missing: str) -> None:
        stage = self.stage
        rank_zero_info(f"{stage}/roc_auc and {stage}/eer are undefined on the {stage} pairs, which hold "
                       f"no {missing}: logged as nan. Give the {stage} split pairs of both kinds, or more of "
                       f"its batches (trainer.limit_{stage}_batches)")


def recall_at_1(embeddings: torch.Tensor, labels: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Share of images whose nearest other image (cosine) has the same label, among those not alone
    in their class (as ``evaluation.metrics.retrieval``); NaN where all are. (N, E), (N,) -> ()."""
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    queries = counts[inverse] > 1
    hits = torch.zeros((), device=embeddings.device)
    for start in range(0, len(embeddings), chunk):
        similarity = embeddings[start:start + chunk] @ embeddings.T
        rows = torch.arange(len(similarity), device=embeddings.device)
        similarity[rows, start + rows] = float("-inf")
        found = labels[similarity.argmax(1)] == labels[start:start + chunk]
        hits += (found & queries[start:start + chunk]).sum()
    return hits / queries.sum()  # 0 / 0: NaN
