"""Mixing instances within a training batch of unlabelled images, as SSCD's strongest
augmentations do (Pizzi et al. 2022; MixUp, Zhang et al. 2018; CutMix, Yun et al. 2019): a
share of the second views is blended with, or has a box pasted from, another instance's second
view, and the mixed view then matches both instances. ``InfoNCELoss`` reads the result as soft
targets: ``own_share`` of the match goes to the view's own instance, the rest to the other.

It works on whole batches (other instances are needed), after the batch reaches its device,
on uint8 images; half of the mixed views are blended and half get a box.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from siamkit.data.batches import TwoViewBatch
from siamkit.errors import ConfigError


class ViewMix:
    """Args:
        share: the share of a batch's second views that are mixed (0..1).
        own_share: the range the mixed view's own share is drawn from (the other instance
            gets the rest); for a box, the box covers the other instance's share of the area.
    """

    def __init__(self, share: float, own_share: tuple[float, float] = (0.5, 0.8)):
        if not 0 <= share <= 1:
            raise ConfigError(f"data.mix_views must be between 0 and 1 (the share of second views mixed with "
                              f"another instance's), not {share}")
        self.share, self.own_share = share, own_share

    def __call__(self, batch: TwoViewBatch) -> TwoViewBatch:
        size = len(batch)
        count = min(size, int(round(self.share * size))) if size > 1 else 0
        other = batch.group_b.clone()
        own = torch.ones(size, device=batch.b.device)
        if not count:
            return dataclasses.replace(batch, other_b=other, own_share=own)
        device = batch.b.device
        mixed = torch.randperm(size, device=device)[:count]
        source = (mixed + torch.randint(1, size, (count,), device=device)) % size  # never itself
        low, high = self.own_share
        weight = low + (high - low) * torch.rand(count, device=device)
        views = batch.b.clone()
        blend = torch.arange(count, device=device) % 2 == 0
        for k in range(count):
            i, j = int(mixed[k]), int(source[k])
            if blend[k]:
                views[i] = (weight[k] * batch.b[i].float() + (1 - weight[k]) * batch.b[j].float()).round().to(
                    batch.b.dtype)
            else:
                weight[k] = self._paste(views[i], batch.b[j], float(weight[k]))
        other[mixed] = batch.group_b[source]
        own[mixed] = weight
        return dataclasses.replace(batch, b=views, other_b=other, own_share=own)

    @staticmethod
    def _paste(target: torch.Tensor, source: torch.Tensor, own: float) -> float:
        """Pastes a square of ``source`` over ``1 - own`` of ``target``'s area, in place at a
        random position; returns the own share of the area actually kept."""
        height, width = target.shape[-2:]
        side_h = max(1, round(height * math.sqrt(1 - own)))
        side_w = max(1, round(width * math.sqrt(1 - own)))
        y = int(torch.randint(0, height - side_h + 1, ()))
        x = int(torch.randint(0, width - side_w + 1, ()))
        target[..., y:y + side_h, x:x + side_w] = source[..., y:y + side_h, x:x + side_w]
        return 1 - side_h * side_w / (height * width)
