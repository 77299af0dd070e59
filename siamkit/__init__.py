"""siamkit: train, evaluate and export Siamese / contrastive image-similarity models.

The public names load on first use, so ``from siamkit import get_scorer`` for the classical
methods never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from siamkit.errors import SiamkitError

__version__ = "0.1.0"

_LAZY = {
    "Encoder": "siamkit.models.encoder",
    "OnnxEncoder": "siamkit.models.runtime",
    "load_encoder": "siamkit.models.runtime",
    "EmbeddingIndex": "siamkit.retrieval.index",
    "Preprocess": "siamkit.data.preprocess",
    "load_image": "siamkit.data.images",
    "get_scorer": "siamkit.scoring.registry",
    "available": "siamkit.scoring.registry",
    "DEFAULT_METHODS": "siamkit.scoring.registry",
}
__all__ = ["SiamkitError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'siamkit' has no attribute {name!r}")
