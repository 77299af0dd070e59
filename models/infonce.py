"""InfoNCE, the contrastive objective of CLIP and of SSCD's copy-detection recipe, with SSCD's
two additions (the KoLeo entropy term, a queue of earlier descriptors) and, for regions of
unlabelled images, no negatives that share much of a region's content."""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from siamkit.data.batches import PairBatch, TwoViewBatch
from siamkit.errors import ConfigError
from siamkit.models.descriptor_queue import DescriptorQueue
from siamkit.models.losses import SiameseLoss, check_positive, masked_mean


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

    And one for regions of unlabelled images (``data.crops_per_image``), off by default:

    - ``region_overlap``: two random regions of one image often overlap, and a region that
      holds most of another is what a copy cropped from it looks like; as negatives they
      teach the opposite of the task. Regions of one image whose intersection covers more
      than this share of the smaller one are neither positives nor negatives of each other
      (false-negative cancellation, Huynh et al. 2022), in the KoLeo term too. 1 uses them
      all; whole images are never regions of one another; queued descriptors stay negatives.

    Args:
        temperature: initial softmax temperature (CLIP: 0.07).
        learnable_temperature: learn it (as a log-scale, clamped at 100 like CLIP).
        gather_across_devices: under DDP, use the other processes' embeddings as negatives.
        entropy_weight: weight of the KoLeo term (0: off).
        queue_size: descriptors held as extra negatives (0: off); a multiple of the batch size.
        region_overlap: the share of the smaller region beyond which two regions of one image
            are not negatives of each other (1: off).
    """

    accepts = (PairBatch, TwoViewBatch)

    def __init__(self, temperature: float = 0.07, learnable_temperature: bool = True,
                 gather_across_devices: bool = True, entropy_weight: float = 0.0, queue_size: int = 0,
                 region_overlap: float = 1.0):
        super().__init__()
        check_positive("InfoNCELoss temperature", temperature)
        if entropy_weight < 0:
            raise ConfigError(f"InfoNCELoss entropy_weight must be >= 0 (SSCD used 30; about 10 suits new "
                              f"set-ups), not {entropy_weight}")
        if queue_size < 0:
            raise ConfigError(f"InfoNCELoss queue_size must be >= 0 (0 turns the queue off), not "
                              f"{queue_size}")
        if not 0 <= region_overlap <= 1:
            raise ConfigError(f"InfoNCELoss region_overlap must be between 0 and 1 (the share of the smaller "
                              f"region two regions of one image may share and still be negatives; 1: off), "
                              f"not {region_overlap}")
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)),
                                        requires_grad=learnable_temperature)
        self.gather_across_devices = gather_across_devices
        self.entropy_weight = entropy_weight
        self.queue = DescriptorQueue(queue_size) if queue_size else None
        self.region_overlap = region_overlap

    def check_batch_size(self, batch_size: int, devices: int = 1) -> None:
        if batch_size * (devices if self.gather_across_devices else 1) < 2:
            raise ConfigError(f"InfoNCELoss needs at least two instances a step, each the other's negative; "
                              f"a batch of {batch_size} holds one, and the loss would learn nothing from it: "
                              "raise data.batch_size")
        if self.queue is not None and self.queue.size % batch_size:
            raise ConfigError(f"InfoNCELoss queue_size {self.queue.size} is not a multiple of the batch size "
                              f"{batch_size}; use for example "
                              f"{batch_size * max(1, self.queue.size // batch_size)}")

    def forward(self, batch: PairBatch) -> torch.Tensor:
        """Every process computes the loss over the whole gathered batch (open_clip's default,
        ``local_loss=False``): each gets the global loss, and DDP's averaging of the gradients,
        which the gather sums across processes, yields exactly the global gradient."""
        names = ["a", "b", "label", "group_a", "group_b"]
        names += ["other_b", "own_share"] if getattr(batch, "own_share", None) is not None else []
        regions = self.region_overlap < 1 and getattr(batch, "box", None) is not None
        names += ["image_index", "box"] if regions else []
        t = {name: getattr(batch, name) for name in names}
        if self.gather_across_devices:
            t = {name: gather_with_grad(tensor) for name, tensor in t.items()}
        a, b, group_a, group_b = t["a"], t["b"], t["group_a"], t["group_b"]
        shared = (shared_content(t["image_index"], t["box"], self.region_overlap) if "box" in t
                  else torch.zeros(len(a), len(a), dtype=torch.bool, device=a.device))
        scale = self.logit_scale.exp().clamp(max=100.0)
        queued, queued_groups = self._queued(a, group_a)
        logits_ab = scale * a @ torch.cat([b, queued]).T
        logits_ba = scale * b @ torch.cat([a, queued]).T
        shared_columns = F.pad(shared, (0, len(queued)))
        masked_ab = (group_a[:, None] == torch.cat([group_b, queued_groups])[None, :]) | shared_columns
        masked_ba = (group_b[:, None] == torch.cat([group_a, queued_groups])[None, :]) | shared_columns
        if "own_share" in t:  # a mixed view b[i] matches its own instance and other[i], by their shares
            other, own = t["other_b"], t["own_share"]
            to_own = own[None, :] * (group_a[:, None] == group_b[None, :])
            to_other = (1 - own[None, :]) * (group_a[:, None] == other[None, :])
            weights_ab = F.pad(to_own + to_other, (0, len(queued)))
            weights_ab = weights_ab / weights_ab.sum(1, keepdim=True)  # a_i may be in several views
            weights_ba = F.pad((to_own + to_other).T, (0, len(queued)))
            loss_ab = _soft_cross_entropy(logits_ab, weights_ab, masked_ab)
            loss_ba = _soft_cross_entropy(logits_ba, weights_ba, masked_ba)
        else:
            targets = torch.arange(len(a), device=a.device)
            loss_ab = _cross_entropy(logits_ab, targets, masked_ab)
            loss_ba = _cross_entropy(logits_ba, targets, masked_ba)
        keep = t["label"] > 0.5
        loss = (0.5 * (loss_ab + loss_ba) * keep).sum() / keep.sum().clamp_min(1)
        if self.entropy_weight:
            loss = loss + self.entropy_weight * koleo(torch.cat([a, b]), torch.cat([group_a, group_b]),
                                                      shared.repeat(2, 2))
        if self.queue is not None and self.training:
            self.queue.push(a, group_a)
        return loss

    def _queued(self, a: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The queue's descriptors while training, else none: (Q, E), (Q,)."""
        if self.queue is None or not self.training or not self.queue.filled:
            return a.new_zeros(0, a.shape[1]), groups.new_zeros(0)
        return self.queue.contents()


def shared_content(image_index: torch.Tensor, box: torch.Tensor, share: float) -> torch.Tensor:
    """(B, B) True where instances i and j are regions of one image whose intersection covers
    more than ``share`` of the smaller one's area; ``box`` (B, 4) as shares of the image."""
    x0, y0, x1, y1 = box.float().unbind(1)
    width = (torch.minimum(x1[:, None], x1[None, :]) - torch.maximum(x0[:, None], x0[None, :])).clamp_min(0)
    height = (torch.minimum(y1[:, None], y1[None, :]) - torch.maximum(y0[:, None], y0[None, :])).clamp_min(0)
    area = (x1 - x0) * (y1 - y0)
    smaller = torch.minimum(area[:, None], area[None, :])
    return (image_index[:, None] == image_index[None, :]) & (width * height > share * smaller)


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy with the ``masked`` columns other than the target left out."""
    masked = masked.clone()
    masked[torch.arange(len(targets), device=targets.device), targets] = False
    return F.cross_entropy(logits.float().masked_fill(masked, float("-inf")), targets, reduction="none")


def _soft_cross_entropy(logits: torch.Tensor, weights: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy against soft targets ``weights`` (rows sum to 1), with the
    ``masked`` columns that are not targets left out."""
    log_p = logits.float().masked_fill(masked & (weights == 0), float("-inf")).log_softmax(1)
    return -(weights * log_p.masked_fill(weights == 0, 0.0)).sum(1)


def koleo(descriptors: torch.Tensor, groups: torch.Tensor,
          shared: torch.Tensor | None = None) -> torch.Tensor:
    """KoLeo entropy term over (N, E) unit vectors: ``-mean log(distance to the nearest
    descriptor of another match group)``, as SSCD computes it (from the largest non-matching
    cosine), leaving out pairs ``shared`` (N, N) marks; rows with no other group count 0."""
    similarity = descriptors.float() @ descriptors.float().T
    non_match = groups[:, None] != groups[None, :]
    if shared is not None:
        non_match &= ~shared
    nearest = similarity.masked_fill(~non_match, -1.0).amax(1)  # -1: the farthest a unit vector can be
    distance = (2.0 - 2.0 * nearest).clamp_min(1e-6).sqrt()
    return masked_mean(-distance.log(), non_match.any(1))
