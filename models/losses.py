"""Objectives over embedded batches.

A loss receives a typed batch (``siamkit.data.batches``) with every image tensor replaced
by its (N, E) L2-normalised embedding, and names in ``accepts`` the batch types it can use.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.data.batches import Batch, ClassBatch, PairBatch
from siamkit.errors import ConfigError

Distance = Literal["cosine", "euclidean"]


class SiameseLoss(nn.Module):
    """Base class: ``forward(batch) -> scalar loss``; ``accepts`` the batch types it can use
    (exactly these types: a ``TwoViewBatch`` is not taken for a ``PairBatch``)."""

    accepts: tuple[type[Batch], ...] = ()

    def check_batch_size(self, batch_size: int, devices: int = 1) -> None:
        """Refuses, at set-up, a batch size (per device, on ``devices``) the loss cannot work with
        (default: any)."""

    def check_pair_labels(self, labels: np.ndarray, data: str) -> None:
        """Refuses, at set-up, training pairs (labels 1 / 0) the loss cannot learn from: every
        loss learns from matches."""
        if not (labels == 1).any():
            raise ConfigError(f"the train split of {data} holds no matching pairs (label 1), so "
                              f"{type(self).__name__} has nothing to learn from: add matches")

    def forward(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError


def pair_distance(a: torch.Tensor, b: torch.Tensor, distance: Distance) -> torch.Tensor:
    """Row-wise distance between (P, E) unit vectors: 1 - cosine, or Euclidean."""
    if distance == "cosine":
        return 1.0 - (a * b).sum(-1)
    return (a - b).norm(dim=-1)


def distance_matrix(x: torch.Tensor, distance: Distance) -> torch.Tensor:
    """(N, E) unit vectors -> (N, N) distances."""
    if distance == "cosine":
        return 1.0 - x @ x.T
    return torch.cdist(x, x).clamp_min(0)


def all_pair_distances(embeddings: torch.Tensor, labels: torch.Tensor,
                       distance: Distance) -> tuple[torch.Tensor, torch.Tensor]:
    """Every unordered pair i < j of a class-labelled batch: (P,) distances, (P,) 1 same class.

    Read from the (N, N) matrix of distances, not computed from rows picked per pair: the
    gradient of picked rows adds each embedding's N - 1 pair gradients up in whatever order the
    CPU's threads finish (``index_put_`` with accumulate), so two runs of one config and seed
    trained different models. The Euclidean matrix is computed without the matrix-product
    shortcut, as exact as ``pair_distance``."""
    i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
    if distance == "cosine":
        matrix = 1.0 - embeddings @ embeddings.T
    else:
        matrix = torch.cdist(embeddings, embeddings, compute_mode="donot_use_mm_for_euclid_dist")
    return matrix[i, j], (labels[i] == labels[j]).float()


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` where ``mask`` (0/1 or bool) is set, 0 where it is nowhere set;
    infinities outside the mask are ignored. Unlike ``values[mask].mean()``, it never waits
    for the GPU to learn how many values there are."""
    return torch.where(mask.bool(), values, 0.0).sum() / mask.sum().clamp_min(1)


class ContrastiveLoss(SiameseLoss):
    """Contrastive loss with a margin (Hadsell, Chopra, LeCun 2006, "Dimensionality Reduction
    by Learning an Invariant Mapping"): ``1/2 d^2`` for matches, ``1/2 max(0, margin - d)^2``
    for non-matches.

    The two terms are averaged separately and added, so the many non-matches of a
    class-labelled batch (all its i < j pairs are used) do not drown its few matches.
    """

    accepts = (PairBatch, ClassBatch)

    def __init__(self, margin: float = 0.5, distance: Distance = "cosine"):
        super().__init__()
        check_positive("ContrastiveLoss margin", margin)
        self.margin = margin
        self.distance = distance

    def check_pair_labels(self, labels: np.ndarray, data: str) -> None:
        super().check_pair_labels(labels, data)
        if not (labels == 0).any():
            raise ConfigError(f"the train split of {data} holds only matching pairs, and ContrastiveLoss "
                              "needs non-matches (label 0) too, or it maps every image to one point: add "
                              "them, or use InfoNCELoss, whose non-matches are a batch's other images")

    def forward(self, batch: PairBatch | ClassBatch) -> torch.Tensor:
        if isinstance(batch, ClassBatch):
            d, same = all_pair_distances(batch.image, batch.label, self.distance)
        else:
            d, same = pair_distance(batch.a, batch.b, self.distance), batch.label.float()
        matches = masked_mean(0.5 * d.pow(2), same)
        non_matches = masked_mean(0.5 * F.relu(self.margin - d).pow(2), 1.0 - same)
        return matches + non_matches


class TripletLoss(SiameseLoss):
    """Triplet margin loss over class-labelled batches (Schroff et al. 2015, FaceNet) with
    online mining:

    - ``batch_hard``: for each anchor its farthest positive and nearest negative
      (Hermans, Beyer, Leibe 2017, "In Defense of the Triplet Loss");
    - ``semi_hard``: for each anchor-positive pair the nearest negative farther than the
      positive (FaceNet's), else the farthest negative.
    """

    accepts = (ClassBatch,)

    def __init__(self, margin: float = 0.2, mining: Literal["batch_hard", "semi_hard"] = "batch_hard",
                 distance: Distance = "euclidean"):
        super().__init__()
        check_positive("TripletLoss margin", margin)
        self.margin = margin
        self.mining = mining
        self.distance = distance

    def forward(self, batch: ClassBatch) -> torch.Tensor:
        embeddings, labels = batch.image, batch.label
        d = distance_matrix(embeddings.float(), self.distance)
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        positive, negative = same & ~eye, ~same
        if self.mining == "batch_hard":
            hardest_positive = d.masked_fill(~positive, float("-inf")).amax(1)
            hardest_negative = d.masked_fill(~negative, float("inf")).amin(1)
            valid = positive.any(1) & negative.any(1)
            return masked_mean(F.relu(hardest_positive - hardest_negative + self.margin), valid)
        anchor, pos = positive.nonzero(as_tuple=True)  # as many rows as pairs: one wait for the GPU
        d_ap = d[anchor, pos]  # (P,)
        d_an = d[anchor]  # (P, N)
        neg = negative[anchor]
        semi_hard = neg & (d_an > d_ap[:, None])
        nearest_semi_hard = d_an.masked_fill(~semi_hard, float("inf")).amin(1)
        farthest = d_an.masked_fill(~neg, float("-inf")).amax(1)
        chosen = torch.where(semi_hard.any(1), nearest_semi_hard, farthest)
        valid = neg.any(1)
        return masked_mean(F.relu(d_ap - chosen + self.margin), valid)


def check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a number > 0, not {value}")


def check_loss_accepts(loss: SiameseLoss, batch_type: type[Batch], data: str) -> None:
    """One line naming the loss, the data and what would fit, when they do not go together."""
    if batch_type in loss.accepts:
        return
    fitting = sorted(cls.__name__ for cls in _loss_classes() if batch_type in cls.accepts)
    raise ConfigError(
        f"{type(loss).__name__} accepts {' or '.join(t.__name__ for t in loss.accepts)} "
        f"batches, but the data ({data}) gives {batch_type.__name__} "
        f"batches: use {' or '.join(fitting) or 'another loss'}, or other data"
    )


def _loss_classes() -> list[type[SiameseLoss]]:
    found, stack = [], list(SiameseLoss.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack += cls.__subclasses__()
    return found
