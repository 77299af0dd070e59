"""Projection heads: backbone features -> L2-normalised embeddings."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from siamkit.errors import ConfigError
from siamkit.models.spec import records_init_args


class ProjectionHead(nn.Module):
    """Linear (``hidden_dim=None``) or two-layer MLP projection, L2-normalised output.

    The MLP form is SimCLR's projection head (Chen et al. 2020, "A Simple Framework for
    Contrastive Learning of Visual Representations").

    Args:
        in_dim: backbone feature size D (filled in by ``SiameseModule`` from the backbone).
        out_dim: embedding size E.
        hidden_dim: width of the MLP's hidden layer; None for a single linear layer.
        batch_norm: batch norm after the hidden layer.

    Shapes: (B, D) -> (B, E), every row of unit length.
    """

    @records_init_args(exclude=("in_dim",))
    def __init__(self, in_dim: int, out_dim: int = 128, hidden_dim: Optional[int] = None,
                 batch_norm: bool = False):
        super().__init__()
        for name, size in (("out_dim", out_dim), ("hidden_dim", hidden_dim)):
            if size is not None and size < 1:
                raise ConfigError(f"ProjectionHead {name} must be a whole number >= 1, not {size}")
        if hidden_dim is None:
            self.layers = nn.Linear(in_dim, out_dim)
        else:
            self.layers = nn.Sequential(
                nn.Linear(in_dim, hidden_dim, bias=not batch_norm),
                nn.BatchNorm1d(hidden_dim) if batch_norm else nn.Identity(),
                nn.ReLU(inplace=True),
                nn.Linear(hidden_dim, out_dim),
            )
        self.out_dim = out_dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.layers(features).float(), dim=-1)
