"""Objectives over embedded batches.

A loss receives a typed batch (``siamkit.data.batches``) with every image tensor replaced
by its (N, E) L2-normalised embedding, and names in ``accepts`` the batch types it can use.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from siamkit.data.batches import Batch, ClassBatch, PairBatch, TwoViewBatch
from siamkit.errors import ConfigError
from siamkit.models.descriptor_queue import DescriptorQueue

Distance = Literal["cosine", "euclidean"]


class SiameseLoss(nn.Module):
    """Base class: ``forward(batch) -> scalar loss``; ``accepts`` the batch types it can use
    (exactly these types: a ``TwoViewBatch`` is not taken for a ``PairBatch``)."""

    accepts: tuple[type[Batch], ...] = ()

    def check_batch_size(self, batch_size: int) -> None:
        """Refuses, at set-up, a batch size the loss cannot work with (default: any)."""

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


def all_pairs(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                       torch.Tensor]:
    """Every unordered pair i < j of a class-labelled batch: (P, E), (P, E), (P,) 1 same class."""
    i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
    return embeddings[i], embeddings[j], (labels[i] == labels[j]).float()


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
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
        _check_positive("ContrastiveLoss margin", margin)
        self.margin = margin
        self.distance = distance

    def forward(self, batch: PairBatch | ClassBatch) -> torch.Tensor:
        if isinstance(batch, ClassBatch):
            a, b, same = all_pairs(batch.image, batch.label)
        else:
            a, b, same = batch.a, batch.b, batch.label.float()
        d = pair_distance(a, b, self.distance)
        matches = _masked_mean(0.5 * d.pow(2), same)
        non_matches = _masked_mean(0.5 * F.relu(self.margin - d).pow(2), 1.0 - same)
        return matches + non_matches


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All processes' (B, ...) tensors concatenated in rank order, gradients flowing back to
    their owners (open_clip's ``gather_features(gather_with_grad=True)``)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor))


class InfoNCELoss(SiameseLoss):
    """Symmetric InfoNCE with a learnable temperature, CLIP-style (van den Oord et al. 2018,
    "Representation Learning with Contrastive Predictive Coding"; Radford et al. 2021, CLIP).

    Each matching pair (a_i, b_i) is a positive; every other ``b`` in the batch, across all
    processes under DDP, is a negative for ``a_i`` and vice versa, except known matches
    (same match group), which are masked out. Rows labelled 0 are used only as negatives.

    The copy-detection recipe of SSCD (Pizzi et al. 2022, "A Self-Supervised Descriptor for
    Image Copy Detection") adds two things, both off by default:

    - ``entropy_weight``: the KoLeo differential-entropy regulariser (Sablayrolles et al. 2019,
      "Spreading vectors for similarity search"), ``-mean log(distance to the nearest
      non-matching descriptor)`` over the batch's descriptors, weighted; it spreads
      descriptors apart. SSCD used 30 and suggests about 10 for new set-ups.
    - ``queue_size``: a ``DescriptorQueue`` of the last descriptors of earlier training
      batches, extra negatives for both directions, so small batches still see many.

    Args:
        temperature: initial softmax temperature (CLIP: 0.07).
        learnable_temperature: learn it (as a log-scale, clamped at 100 like CLIP).
        gather_across_devices: under DDP, use the other processes' embeddings as negatives.
        entropy_weight: weight of the KoLeo term (0: off).
        queue_size: descriptors held as extra negatives (0: off); a multiple of the batch size.
    """

    accepts = (PairBatch, TwoViewBatch)

    def __init__(self, temperature: float = 0.07, learnable_temperature: bool = True,
                 gather_across_devices: bool = True, entropy_weight: float = 0.0, queue_size: int = 0):
        super().__init__()
        _check_positive("InfoNCELoss temperature", temperature)
        if entropy_weight < 0:
            raise ConfigError(f"InfoNCELoss entropy_weight must be >= 0 (SSCD used 30; about 10 suits new "
                              f"set-ups), not {entropy_weight}")
        if queue_size < 0:
            raise ConfigError(f"InfoNCELoss queue_size must be >= 0 (0 turns the queue off), not "
                              f"{queue_size}")
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)),
                                        requires_grad=learnable_temperature)
        self.gather_across_devices = gather_across_devices
        self.entropy_weight = entropy_weight
        self.queue = DescriptorQueue(queue_size) if queue_size else None

    def check_batch_size(self, batch_size: int) -> None:
        if self.queue is not None and self.queue.size % batch_size:
            raise ConfigError(f"InfoNCELoss queue_size {self.queue.size} is not a multiple of the batch size "
                              f"{batch_size}; use for example "
                              f"{batch_size * max(1, self.queue.size // batch_size)}")

    def forward(self, batch: PairBatch) -> torch.Tensor:
        """Every process computes the loss over the whole gathered batch (open_clip's default,
        ``local_loss=False``): each gets the global loss, and DDP's averaging of the gradients,
        which the gather sums across processes, yields exactly the global gradient."""
        mixed = getattr(batch, "own_share", None) is not None
        tensors = [batch.a, batch.b, batch.label, batch.group_a, batch.group_b]
        tensors += [batch.other_b, batch.own_share] if mixed else []
        if self.gather_across_devices:
            tensors = [gather_with_grad(t) for t in tensors]
        a, b, label, group_a, group_b, *mixing = tensors
        scale = self.logit_scale.exp().clamp(max=100.0)
        queued, queued_groups = self._queued(a, group_a)
        logits_ab = scale * a @ torch.cat([b, queued]).T
        logits_ba = scale * b @ torch.cat([a, queued]).T
        if mixed:  # a mixed view b[i] matches its own instance and other[i], by their shares
            other, own = mixing
            to_own = own[None, :] * (group_a[:, None] == group_b[None, :])
            to_other = (1 - own[None, :]) * (group_a[:, None] == other[None, :])
            weights_ab = F.pad(to_own + to_other, (0, len(queued)))
            weights_ab = weights_ab / weights_ab.sum(1, keepdim=True)  # a_i may be in several views
            weights_ba = F.pad((to_own + to_other).T, (0, len(queued)))
            loss_ab = self._soft_cross_entropy(logits_ab, weights_ab, group_a, torch.cat([group_b,
                                                                                          queued_groups]))
            loss_ba = self._soft_cross_entropy(logits_ba, weights_ba, group_b, torch.cat([group_a,
                                                                                          queued_groups]))
        else:
            targets = torch.arange(len(a), device=a.device)
            loss_ab = self._cross_entropy(logits_ab, targets, group_a, torch.cat([group_b, queued_groups]))
            loss_ba = self._cross_entropy(logits_ba, targets, group_b, torch.cat([group_a, queued_groups]))
        keep = label > 0.5
        loss = (0.5 * (loss_ab + loss_ba) * keep).sum() / keep.sum().clamp_min(1)
        if self.entropy_weight:
            loss = loss + self.entropy_weight * koleo(torch.cat([a, b]), torch.cat([group_a, group_b]))
        if self.queue is not None and self.training:
            self.queue.push(a, group_a)
        return loss

    def _queued(self, a: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The queue's descriptors while training, else none: (Q, E), (Q,)."""
        if self.queue is None or not self.training or not self.queue.filled:
            return a.new_zeros(0, a.shape[1]), groups.new_zeros(0)
        return self.queue.contents()

    @staticmethod
    def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor, row_groups: torch.Tensor,
                       column_groups: torch.Tensor) -> torch.Tensor:
        """Per-row cross-entropy with known matches other than the target masked out."""
        known_match = row_groups[:, None] == column_groups[None, :]
        known_match[torch.arange(len(targets), device=targets.device), targets] = False
        logits = logits.float().masked_fill(known_match, float("-inf"))
        return F.cross_entropy(logits, targets, reduction="none")

    @staticmethod
    def _soft_cross_entropy(logits: torch.Tensor, weights: torch.Tensor, row_groups: torch.Tensor,
                            column_groups: torch.Tensor) -> torch.Tensor:
        """Per-row cross-entropy against soft targets ``weights`` (rows sum to 1), with known
        matches that are not targets masked out."""
        known_match = (row_groups[:, None] == column_groups[None, :]) & (weights == 0)
        log_p = logits.float().masked_fill(known_match, float("-inf")).log_softmax(1)
        return -(weights * log_p.masked_fill(weights == 0, 0.0)).sum(1)


def koleo(descriptors: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """KoLeo entropy term over (N, E) unit vectors: ``-mean log(distance to the nearest
    descriptor of another match group)``, as SSCD computes it (from the largest non-matching
    cosine); rows with no other group count 0."""
    similarity = descriptors.float() @ descriptors.float().T
    non_match = groups[:, None] != groups[None, :]
    nearest = similarity.masked_fill(~non_match, -1.0).amax(1)  # -1: the farthest a unit vector can be
    distance = (2.0 - 2.0 * nearest).clamp_min(1e-6).sqrt()
    return _masked_mean(-distance.log(), non_match.any(1))


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
        _check_positive("TripletLoss margin", margin)
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
            return _masked_mean(F.relu(hardest_positive - hardest_negative + self.margin), valid)
        anchor, pos = positive.nonzero(as_tuple=True)  # as many rows as pairs: one wait for the GPU
        d_ap = d[anchor, pos]  # (P,)
        d_an = d[anchor]  # (P, N)
        neg = negative[anchor]
        semi_hard = neg & (d_an > d_ap[:, None])
        nearest_semi_hard = d_an.masked_fill(~semi_hard, float("inf")).amin(1)
        farthest = d_an.masked_fill(~neg, float("-inf")).amax(1)
        chosen = torch.where(semi_hard.any(1), nearest_semi_hard, farthest)
        valid = neg.any(1)
        return _masked_mean(F.relu(d_ap - chosen + self.margin), valid)


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a number > 0, not {value}")
