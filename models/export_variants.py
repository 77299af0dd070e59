"""What an export may change about a trained encoder, each chosen on validation pairs:
weight-space interpolation toward the pretrained start (WiSE-FT, Wortsman et al. 2022, "Robust
fine-tuning of zero-shot models"), the pooled backbone features instead of the projection head's
output (SimCLR, Chen et al. 2020: the representation before the head transfers better), those
joined by mid-level features (``join_mid_level``), and embedding at several input sizes
(multi-scale descriptors, Radenovic et al. 2018, "Fine-tuning CNN image retrieval with no human
annotation")."""

from __future__ import annotations

import dataclasses

import torch

from siamkit.errors import ConfigError, WeightsNotFoundError
from siamkit.models.encoder import Encoder


def start_weights(encoder: Encoder) -> dict[str, torch.Tensor]:
    """The backbone weights fine-tuning started from, loaded as at the start of training."""
    try:
        start = encoder.starting_point()
    except WeightsNotFoundError as missing:
        raise WeightsNotFoundError(f"WiSE-FT interpolates toward the pretrained start, and {missing}. "
                                   "Make those weights available again, or leave the interpolation out "
                                   "(--wise-ft 1)") from None
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


#: the sizes a multi-scale export embeds at: the input size and a factor of sqrt(2) either side
MULTI_SCALE = (2 ** -0.5, 1.0, 2 ** 0.5)


def without_head(encoder: Encoder) -> Encoder:
    """The same encoder giving its backbone's pooled features (L2-normalised), head left out."""
    architecture = dataclasses.replace(encoder.card.architecture, head=None, mid_level=False)
    card = dataclasses.replace(encoder.card, architecture=architecture, fingerprint=None, calibration=None,
                               embedding_dim=encoder.backbone.feature_dim)
    return Encoder(encoder.backbone, None, card.architecture, card)


def with_mid_level(encoder: Encoder) -> Encoder:
    """The same backbone, head left out, its pooled features joined by its mid-level ones (see
    ``join_mid_level``)."""
    architecture = dataclasses.replace(encoder.card.architecture, head=None, mid_level=True)
    card = dataclasses.replace(encoder.card, architecture=architecture, fingerprint=None, calibration=None)
    mid_level = Encoder(encoder.backbone, None, architecture, card)
    mid_level.card.embedding_dim = mid_level.embedding_dim
    return mid_level


def at_scales(encoder: Encoder, scales: tuple[float, ...]) -> Encoder:
    """The same encoder embedding at each of ``scales`` (multiples of its input size), its
    embedding the normalised mean of theirs (a backbone with a fixed input size is refused)."""
    architecture = dataclasses.replace(encoder.card.architecture, scales=scales)
    card = dataclasses.replace(encoder.card, architecture=architecture, fingerprint=None, calibration=None)
    return Encoder(encoder.backbone, encoder.head, card.architecture, card)
