"""Keeping what the pretrained start knew, at export: weight-space interpolation toward the
start (WiSE-FT, Wortsman et al. 2022, "Robust fine-tuning of zero-shot models") and the pooled
backbone features instead of the projection head's output (SimCLR, Chen et al. 2020: the
representation before the head transfers better). Both are chosen on validation pairs."""

from __future__ import annotations

import dataclasses

import torch

from siamkit.errors import ConfigError
from siamkit.models.encoder import Encoder
from siamkit.models.spec import EncoderSpec


def start_weights(encoder: Encoder) -> dict[str, torch.Tensor]:
    """The backbone weights fine-tuning started from, loaded as at the start of training."""
    start = encoder.starting_point()
    if start is None:
        raise ConfigError(f"{encoder.card.source} was trained from scratch: there is no pretrained start "
                          "to interpolate toward (leave --wise-ft out)")
    return start.backbone.state_dict()


def interpolate_toward_start(encoder: Encoder, alpha: float,
                             start_state: dict[str, torch.Tensor] | None = None) -> Encoder:
    """The backbone's weights become ``(1 - alpha) * start + alpha * fine-tuned`` (alpha 1 keeps
    the fine-tuned weights, 0 the start's); the head, which has no start, is kept. In place.
    ``start_state``: ``start_weights(encoder)``, when the caller has read them already."""
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"the interpolation weight alpha must be from 0 to 1, not {alpha}")
    start_state = start_weights(encoder) if start_state is None else start_state
    with torch.no_grad():
        for name, tensor in encoder.backbone.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.lerp(start_state[name].to(tensor), tensor, alpha))
    encoder.card.wise_ft_alpha = alpha
    encoder.card.fingerprint = None
    return encoder


def without_head(encoder: Encoder) -> Encoder:
    """The same encoder giving its backbone's pooled features (L2-normalised), head left out."""
    architecture = EncoderSpec(encoder.card.architecture.backbone, None)
    card = dataclasses.replace(encoder.card, architecture=architecture, fingerprint=None, calibration=None,
                               embedding_dim=encoder.backbone.feature_dim)
    return Encoder(encoder.backbone, None, card.architecture, card)
