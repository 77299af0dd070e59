"""A cross-batch memory of descriptors, as extra negatives for small batches (Wang et al.
2020, "Cross-Batch Memory for Embedding Learning"; the ISC 2021 winner's queue)."""

from __future__ import annotations

import torch
from torch import nn

from siamkit.errors import ConfigError


class DescriptorQueue(nn.Module):
    """The last ``size`` descriptors pushed, with their match-group ids, oldest overwritten first.

    It holds detached copies: gradients flow only through the current batch. Its buffers are
    not saved in checkpoints (a resumed run refills it within size / batch steps), and it is
    part of the loss, never of an exported encoder.
    """

    def __init__(self, size: int):
        super().__init__()
        if size < 1:
            raise ConfigError(f"a descriptor queue needs size >= 1, not {size}")
        self.size = size
        self.register_buffer("descriptors", torch.zeros(0), persistent=False)
        self.register_buffer("groups", torch.zeros(0, dtype=torch.long), persistent=False)
        self.filled = 0
        self.position = 0

    def contents(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(Q, E) descriptors and (Q,) group ids, Q = how many are held so far."""
        return self.descriptors[:self.filled], self.groups[:self.filled]

    @torch.no_grad()
    def push(self, descriptors: torch.Tensor, groups: torch.Tensor) -> None:
        """Adds (B, E) descriptors (B <= size) with their (B,) group ids."""
        if self.descriptors.ndim != 2:
            self.descriptors = descriptors.new_zeros(self.size, descriptors.shape[1])
            self.groups = groups.new_zeros(self.size)
        rows = (self.position + torch.arange(len(descriptors), device=descriptors.device)) % self.size
        self.descriptors[rows] = descriptors.detach().to(self.descriptors.dtype)
        self.groups[rows] = groups
        self.position = (self.position + len(descriptors)) % self.size
        self.filled = min(self.size, self.filled + len(descriptors))
