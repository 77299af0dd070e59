"""``get_scorer``: any scoring method from a name, a name:preset, or an encoder's location.

Classical methods register below as (module, class, fixed options); their modules are
imported on demand, so scoring with them never imports torch. Anything else is an embedding
model: an exported encoder folder, a ``train fit`` checkpoint (``.ckpt``), or
``open_clip:MODEL[:TAG]``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from pathlib import Path
from typing import Any

from siamkit.errors import ConfigError
from siamkit.scoring.base import Scorer

#: name -> (module, class, fixed options). New classical methods register here.
METHODS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "histogram": ("siamkit.scoring.histogram", "HistogramScorer", {}),
    "ssim": ("siamkit.scoring.ssim", "SSIMScorer", {}),
    "sift": ("siamkit.scoring.keypoints", "KeypointScorer", {"detector": "sift"}),
    "orb": ("siamkit.scoring.keypoints", "KeypointScorer", {"detector": "orb"}),
    "phash": ("siamkit.scoring.phash", "PHashScorer", {}),
}
OPEN_CLIP_PREFIX = "open_clip:"


def get_scorer(method: str, **options: Any) -> Scorer:
    """A scorer from ``method``:

    - a classical method, optionally with a preset: ``histogram``, ``histogram:seed``,
      ``ssim:seed``, ``sift``, ``sift:ransac``, ``orb``, ``phash``; ``options`` override
      its settings (``get_scorer("histogram", bins=(16, 16, 16))``);
    - an encoder folder from ``train export`` or a ``.ckpt`` from ``train fit``;
    - ``open_clip:MODEL[:TAG]``, e.g. ``open_clip:ViT-B-16-plus-240:laion400m_e32``.
    """
    name, _, preset = method.partition(":")
    if name in METHODS:
        return _classical(name, preset or None, options)
    if method.startswith(OPEN_CLIP_PREFIX) or _names_a_location(method):
        return _embedding(method, options)
    raise ConfigError(
        f"unknown scoring method {method!r}; valid: {', '.join(available())}, an encoder folder "
        f"(train export), a .ckpt (train fit), or open_clip:MODEL[:TAG]{_did_you_mean(name)}"
    )


def available() -> list[str]:
    """Every classical method and preset, as ``get_scorer`` accepts them."""
    names = []
    for name, (module, _, _) in METHODS.items():
        names.append(name)
        names += [f"{name}:{preset}" for preset in getattr(importlib.import_module(module), "PRESETS", {})]
    return names


def _classical(name: str, preset: str | None, options: dict[str, Any]) -> Scorer:
    module_name, class_name, fixed = METHODS[name]
    module = importlib.import_module(module_name)
    presets = getattr(module, "PRESETS", {})
    if preset is not None and preset not in presets:
        raise ConfigError(f"{name} has no preset {preset!r}; its presets: {', '.join(presets) or 'none'}")
    cls = getattr(module, class_name)
    settings = {**(presets[preset] if preset else {}), **options, **fixed}
    settings.setdefault("name", f"{name}:{preset}" if preset else name)
    fields = {f.name for f in dataclasses.fields(cls)}
    if unknown := sorted(set(settings) - fields):
        raise ConfigError(f"{name} has no option(s) {', '.join(unknown)}; its options: "
                          f"{', '.join(sorted(fields - {'name', 'detector'}))}")
    return cls(**settings)


def _embedding(method: str, options: dict[str, Any]) -> Scorer:
    from siamkit.models.encoder import Encoder
    from siamkit.scoring.embedding import EmbeddingScorer

    device = options.pop("device", "cpu")
    if method.startswith(OPEN_CLIP_PREFIX):
        model_name, _, tag = method[len(OPEN_CLIP_PREFIX):].partition(":")
        encoder = Encoder.from_open_clip(model_name, options.pop("pretrained", None) or tag or None).to(device)
    else:
        encoder = Encoder.load(method, device=device)
    options.setdefault("name", method)
    return EmbeddingScorer(encoder, **options)


def _names_a_location(method: str) -> bool:
    """An existing path, or one that only a path could be (so a missing encoder is reported as
    missing, not as an unknown method name)."""
    return Path(method).exists() or "/" in method or method.endswith(".ckpt")


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, list(METHODS), n=2)
    return f" (did you mean {' or '.join(close)}?)" if close else ""
