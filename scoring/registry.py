"""``get_scorer``: any scoring method from a name, a name:preset, or an encoder's location.

Classical methods register themselves where they are defined (``@register_scorer``); their
modules are imported on the first look-up, and none of them imports torch. Anything else is
an embedding model: an exported encoder folder, a run folder, a ``train fit`` checkpoint
(``.ckpt``), or ``open_clip:MODEL:TAG``, loaded only when asked for.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from siamkit.devices import check_device
from siamkit.errors import ConfigError
from siamkit.runtimes import OPEN_CLIP_PREFIX, START_SUFFIX, TIMM_PREFIX, names_a_network
from siamkit.scoring.base import Scorer
from siamkit.wording import number

#: modules whose scorers register themselves on import
CLASSICAL_MODULES = ("siamkit.scoring.histogram", "siamkit.scoring.ssim", "siamkit.scoring.keypoints",
                     "siamkit.scoring.phash", "siamkit.scoring.pdq")
#: what `train score` and `train evaluate` run when no method is named: every classical method
DEFAULT_METHODS = ("histogram", "ssim", "sift", "orb", "phash", "pdq")
#: every form a method may take, for the commands' help
METHOD_FORMS = (f"classical methods ({', '.join(DEFAULT_METHODS)}; some with :PRESET, e.g. histogram:seed, "
                "sift:ransac, pdq:dihedral), encoder folders, run folders, .ckpt files, FOLDER@start (the "
                f"pretrained network a model was fine-tuned from), {TIMM_PREFIX}MODEL[:WEIGHTS] and "
                f"{OPEN_CLIP_PREFIX}MODEL:TAG")


@dataclass(frozen=True)
class Registration:
    cls: type[Scorer]
    fixed: dict[str, Any]  # options this name always sets (the detector of sift / orb)
    presets: dict[str, dict[str, Any]]


_REGISTRY: dict[str, Registration] = {}


def register_scorer(name: str, presets: dict[str, dict[str, Any]] | None = None,
                    **fixed: Any) -> Callable[[type[Scorer]], type[Scorer]]:
    """Class decorator: ``get_scorer(name)`` and ``get_scorer(f"{name}:{preset}")`` build it."""

    def decorate(cls: type[Scorer]) -> type[Scorer]:
        _REGISTRY[name] = Registration(cls, fixed, presets or {})
        return cls

    return decorate


def get_scorer(method: str, **options: Any) -> Scorer:
    """A scorer from ``method``:

    - a classical method, optionally with a preset: ``histogram``, ``histogram:seed``,
      ``ssim:seed``, ``sift``, ``sift:ransac``, ``orb``, ``phash``; ``options`` override
      its settings (``get_scorer("histogram", bins=(16, 16, 16))``);
    - an encoder folder from ``train export``, a run folder, or a ``.ckpt`` from ``train fit``;
    - ``open_clip:MODEL:TAG``, e.g. ``open_clip:ViT-B-16-plus-240:laion400m_e32``;
    - ``timm:MODEL[:PRETRAINED]``, a pretrained timm backbone's pooled features, e.g.
      ``timm:tf_efficientnet_lite0:efficientnet-lite0`` (PRETRAINED as ``TimmBackbone`` takes it);
    - a fine-tuned model's location + ``@start``: the pretrained backbone it was initialised from.

    Embedding models also take ``device``, ``runtime`` and ``threads`` (see
    ``siamkit.models.runtime.load_encoder``), and ``background`` (images of unrelated subjects)
    with ``background_k`` for score normalisation (``NormalizedEmbeddingScorer``).
    """
    if not isinstance(method, str):
        raise TypeError(f"a scoring method is named by a string (e.g. 'histogram' or an encoder folder), "
                        f"not {type(method).__name__}")
    if not method.strip():
        raise ConfigError(f"an empty scoring method name; valid: {_valid_methods()}")
    name, _, preset = method.partition(":")
    if name in _registry():
        return _classical(name, preset or None, options)
    if names_a_network(method) or _names_a_location(method):
        return _embedding(method, options)
    raise ConfigError(f"unknown scoring method {method!r}; valid: {_valid_methods()}{_did_you_mean(name)}")


def is_classical(method: str) -> bool:
    return method.partition(":")[0] in _registry()


def available() -> list[str]:
    """Every classical method and preset, as ``get_scorer`` accepts them."""
    order = {module: k for k, module in enumerate(CLASSICAL_MODULES)}  # not the order of first import
    registrations = sorted(_registry().items(), key=lambda item: order[item[1].cls.__module__])
    return [entry for name, registration in registrations
            for entry in (name, *(f"{name}:{preset}" for preset in registration.presets))]


def _valid_methods() -> str:
    return (f"{', '.join(available())}, an encoder folder (train export), a .ckpt (train fit), FOLDER@start, "
            "open_clip:MODEL:TAG or timm:MODEL[:PRETRAINED]")


def _registry() -> dict[str, Registration]:
    for module in CLASSICAL_MODULES:
        importlib.import_module(module)  # registers its scorers, once
    return _REGISTRY


def _classical(name: str, preset: str | None, options: dict[str, Any]) -> Scorer:
    registration = _registry()[name]
    if preset is not None and preset not in registration.presets:
        presets = f"its presets: {', '.join(registration.presets)}" if registration.presets else "it has none"
        raise ConfigError(f"{name} has no preset {preset!r}; {presets}")
    settings = {**(registration.presets[preset] if preset else {}), **options, **registration.fixed}
    settings.setdefault("name", f"{name}:{preset}" if preset else name)
    fields = {f.name for f in dataclasses.fields(registration.cls)}
    if unknown := sorted(set(settings) - fields):
        raise ConfigError(f"{name} has no {number(len(unknown), 'option')} {', '.join(unknown)}; "
                          f"its options: {', '.join(sorted(fields - {'name'} - set(registration.fixed)))}")
    return registration.cls(**settings)


def _embedding(method: str, options: dict[str, Any]) -> Scorer:
    from siamkit.models.runtime import load_encoder
    from siamkit.scoring.embedding import EmbeddingScorer, NormalizedEmbeddingScorer

    device = check_device(str(options.pop("device", "cpu")))
    runtime, threads = options.pop("runtime", "auto"), options.pop("threads", None)
    background, k = options.pop("background", None), options.pop("background_k", 1)
    encoder = load_encoder(method, runtime, device, threads)
    options.setdefault("name", method)
    if background is None:
        return EmbeddingScorer(encoder, **options)
    background_embeddings = encoder.embed(background, progress="embedding the background")
    return NormalizedEmbeddingScorer(encoder, background_embeddings, k, **options)


def _names_a_location(method: str) -> bool:
    """An existing path, or one that only a path could be (so a missing encoder is reported as
    missing, not as an unknown method name), possibly with ``@start``."""
    method = method.removesuffix(START_SUFFIX)
    return Path(method).exists() or "/" in method or method.endswith(".ckpt")


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, list(_registry()), n=2)
    return f" (did you mean {' or '.join(close)}?)" if close else ""
