"""Whether an encoder folder's parts belong together: the fingerprint of the weights (and of
the input sizes they embed at), and the card checked against the weights file it sits beside, so
that an edited folder, or one mixing two exports, is refused before it embeds anything."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import torch

from siamkit.models.card import CONFIG_FILE, EncoderCard, EncoderFolderError

if TYPE_CHECKING:
    from siamkit.models.encoder import Encoder

WEIGHTS_FILE = "model.safetensors"


def fingerprint(encoder: Encoder) -> str:
    """Which weights, at which input sizes, made an embedding: sha256 of the state dict's names
    and values (and of the scales, when more than one, and mid-level features), the same for a
    checkpoint and the folder exported from it."""
    digest = hashlib.sha256()
    if encoder.scales != (1.0,):
        digest.update(repr(encoder.scales).encode())
    if encoder.mid_level:
        digest.update(b"mid-level")
    for name, tensor in sorted(encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def read_encoder_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors of a weights file, and its metadata."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as file:
            return {name: file.get_tensor(name) for name in file.keys()}, file.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise EncoderFolderError(f"{path} cannot be read ({error}): it is truncated or not a safetensors "
                                 "file; export the folder again with `train export`") from None


def check_card(encoder: Encoder, card: EncoderCard, folder: Path, exported_with: Optional[str]) -> None:
    """The card must describe the weights it sits beside: an edited or mixed folder is refused.
    ``exported_with``: the preprocessing the weights file records (files before it did: None)."""
    where = folder / CONFIG_FILE
    if card.fingerprint and fingerprint(encoder) != card.fingerprint:
        raise EncoderFolderError(f"{folder / WEIGHTS_FILE} is not the file {where} was "
                                 f"written with (fingerprint {fingerprint(encoder)}, "
                                 f"config says {card.fingerprint}); export the folder again")
    if card.preprocessing != encoder.image_config:
        raise EncoderFolderError(f"{where}: preprocessing {card.preprocessing.to_dict()} "
                                 f"does not match the architecture's {encoder.image_config.to_dict()}; "
                                 "the folder was edited or mixes two exports")
    if exported_with is not None and exported_with != card.preprocessing.to_json():
        raise EncoderFolderError(f"{where}: preprocessing {card.preprocessing.to_json()} is not what "
                                 f"{WEIGHTS_FILE} was exported with ({exported_with}); the folder was edited "
                                 "or mixes two exports: export it again")
    if card.embedding_dim != encoder.embedding_dim:
        raise EncoderFolderError(f"{where}: embedding_dim {card.embedding_dim} does not match the weights' "
                                 f"{encoder.embedding_dim}; the folder was edited or mixes two exports")
