"""Encoder: a trained backbone + projection head that lives on without Lightning.

An encoder folder is self-describing and pickle-free:

- ``model.safetensors``: the weights of the backbone and head (no optimizer, no text tower);
- ``config.json``: how to rebuild the architecture (``class_path`` / ``init_args`` as in the
  training config, with pretrained-weight options nulled so nothing is downloaded), the
  preprocessing, the embedding size, the training metrics, the calibrated threshold, and a
  fingerprint of the weights (indexes store it, so a query embedded by another encoder is
  refused).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.data.images import ImageInput, load_image
from siamkit.data.transforms import ImageConfig, InputNormalization, build_transform
from siamkit.errors import ConfigError, SiamkitError
from siamkit.models.backbones import OpenClipBackbone, load_matching

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "siamkit-encoder/1"
#: init_args that fetch pretrained weights: nulled when rebuilding, the weights come from the folder.
_PRETRAINED_ARGS = ("pretrained", "weights")


class EncoderFolderError(SiamkitError):
    """An encoder folder or checkpoint that cannot be used."""


class Encoder(nn.Module):
    """Images -> L2-normalised embeddings, ``(B, 3, S, S) -> (B, E)``.

    Args:
        backbone: a ``Backbone`` (it brings its ``image_config``).
        head: ``(B, D) -> (B, E)``; None uses the backbone's features, L2-normalised.
        spec: ``{"backbone": {class_path, init_args}, "head": {...} | None}``, what ``save``
            writes so ``load`` can rebuild the same architecture.
        info: anything else to keep in config.json (training metrics, threshold, source).
    """

    def __init__(self, backbone: nn.Module, head: Optional[nn.Module], spec: dict[str, Any],
                 info: Optional[dict[str, Any]] = None):
        super().__init__()
        self.backbone = backbone
        self.normalize = InputNormalization(backbone.image_config)
        self.head = head
        self.spec = spec
        self.info = dict(info or {})
        self.eval()

    @property
    def image_config(self) -> ImageConfig:
        return self.backbone.image_config

    @property
    def embedding_dim(self) -> int:
        return self.head.out_dim if self.head is not None else self.backbone.feature_dim

    @property
    def threshold(self) -> Optional[float]:
        """The calibrated same / different decision threshold on cosine similarity, if set."""
        return self.info.get("threshold")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) uint8, resized and cropped -> (B, E) float32 unit vectors."""
        features = self.backbone(self.normalize(images))
        return self.head(features) if self.head is not None else F.normalize(features.float(), dim=-1)

    @torch.inference_mode()
    def embed(self, images: Iterable[ImageInput], batch_size: int = 64) -> np.ndarray:
        """Images (paths, arrays, PIL) -> (N, E) float32 unit vectors."""
        transform = build_transform(self.image_config)
        device = next(self.parameters()).device
        rows, batch = [], []
        for image in images:
            batch.append(transform(load_image(image, draft_size=self.image_config.size)))
            if len(batch) == batch_size:
                rows.append(self(torch.stack(batch).to(device)).float().cpu())
                batch = []
        if batch:
            rows.append(self(torch.stack(batch).to(device)).float().cpu())
        if not rows:
            return np.zeros((0, self.embedding_dim), np.float32)
        return torch.cat(rows).numpy()

    # --- the folder format -------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "architecture": self.spec,
            "preprocessing": self.image_config.to_dict(),
            "embedding_dim": self.embedding_dim,
            **self.info,
        }

    def save(self, folder: str | Path) -> Path:
        """Writes ``model.safetensors`` and ``config.json`` (with the weights' fingerprint)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, folder / WEIGHTS_FILE, metadata={"format": FORMAT})
        self.info["fingerprint"] = fingerprint(self)
        (folder / CONFIG_FILE).write_text(json.dumps(self.config(), indent=2) + "\n")
        return folder

    def update_config(self, folder: str | Path, **values: Any) -> None:
        """Adds ``values`` (e.g. a calibrated threshold) to a saved folder's config.json."""
        self.info.update(values)
        path = Path(folder) / CONFIG_FILE
        path.write_text(json.dumps({**json.loads(path.read_text()), **values}, indent=2) + "\n")

    @classmethod
    def load(cls, source: str | Path, device: str | torch.device = "cpu") -> "Encoder":
        """From an encoder folder (safetensors + config.json) or a siamkit training checkpoint."""
        source = Path(source)
        if source.is_dir() and not (source / CONFIG_FILE).exists() and (source / "checkpoints").is_dir():
            source = run_checkpoint(source)
        if source.is_file() and source.suffix == ".ckpt":
            return cls.from_checkpoint(source).to(device)
        if not source.exists():
            raise EncoderFolderError(f"encoder {source} does not exist (expected an encoder folder from "
                                     "`train export`, or a .ckpt from `train fit`)")
        config = _read_config(source)
        weights = source / WEIGHTS_FILE
        if not weights.is_file():
            raise EncoderFolderError(f"encoder folder {source} has no {WEIGHTS_FILE}; export it again with "
                                     "`train export --ckpt CKPT --out DIR`")
        from safetensors.torch import load_file

        encoder = cls.from_spec(config["architecture"], info=_info(config))
        load_matching(encoder, load_file(weights), str(weights))
        if config.get("fingerprint") and fingerprint(encoder) != config["fingerprint"]:
            raise EncoderFolderError(
                f"{weights} is not the file {source / CONFIG_FILE} was written with (fingerprint "
                f"{fingerprint(encoder)}, config says {config['fingerprint']}); export the folder again"
            )
        saved = config.get("preprocessing")
        if saved and ImageConfig.from_dict(saved) != encoder.image_config:
            raise EncoderFolderError(
                f"{source / CONFIG_FILE}: preprocessing {saved} does not match the architecture's "
                f"{encoder.image_config.to_dict()}; the folder was edited or mixes two exports"
            )
        return encoder.to(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "Encoder":
        """From a ``train fit`` checkpoint, read with torch's restricted (``weights_only``)
        unpickler, which cannot run code from the file."""
        path = Path(path)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise EncoderFolderError(
                f"cannot read checkpoint {path} safely ({type(error).__name__}): it is not a siamkit training "
                "checkpoint, or it holds objects other than tensors and plain values"
            ) from None
        hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
        if not isinstance(hparams.get("backbone"), dict) or "state_dict" not in checkpoint:
            raise EncoderFolderError(
                f"{path} is not a siamkit checkpoint: it lacks the model's backbone class_path in its "
                "hyper-parameters (was it written by `train fit`?)"
            )
        spec = {"backbone": hparams["backbone"], "head": hparams.get("head")}
        state = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith(("backbone.", "head."))}
        data = checkpoint.get("datamodule_hyper_parameters", {})
        info = {"trained_on": {key: data.get(key) for key in ("source", "root", "split_fractions", "split_seed")},
                "checkpoint": str(path), "global_step": checkpoint.get("global_step"),
                "metrics": _best_scores(checkpoint.get("callbacks", {}))}
        encoder = cls.from_spec(spec, info=info)
        load_matching(encoder, state, str(path))
        encoder.info["fingerprint"] = fingerprint(encoder)
        return encoder

    @classmethod
    def from_spec(cls, spec: dict[str, Any], info: Optional[dict[str, Any]] = None) -> "Encoder":
        """Builds the architecture, untrained, from ``{"backbone": ..., "head": ...}``."""
        backbone_spec = _offline(spec["backbone"])
        backbone = _instantiate(backbone_spec)
        head_spec = spec.get("head")
        head = _instantiate(head_spec, backbone.feature_dim) if head_spec else None
        return cls(backbone, head, {"backbone": backbone_spec, "head": head_spec}, info)

    @classmethod
    def from_open_clip(cls, model_name: str, pretrained: Optional[str] = None) -> "Encoder":
        """An open_clip image tower as it comes (the seed article's CLIP score)."""
        backbone = OpenClipBackbone(model_name, pretrained)
        spec = {"backbone": {"class_path": "siamkit.models.OpenClipBackbone",
                             "init_args": {"model_name": model_name, "pretrained": None}}, "head": None}
        return cls(backbone, None, spec, {"source": f"open_clip:{model_name}:{pretrained}"})


def run_checkpoint(run: Path) -> Path:
    """A run folder's best checkpoint (by its monitored metric), else its last one."""
    best = sorted((run / "checkpoints").glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    if (run / "checkpoints" / "last.ckpt").exists():
        return run / "checkpoints" / "last.ckpt"
    raise EncoderFolderError(f"run folder {run} has no checkpoints yet (expected checkpoints/best-*.ckpt or last.ckpt)")


def fingerprint(module: nn.Module) -> str:
    """Which weights made an embedding: sha256 of the state dict's names and values, the same
    for a checkpoint and the folder exported from it."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _best_scores(callbacks: dict[str, Any]) -> dict[str, float]:
    """``{"val/roc_auc": best value}`` from the checkpoint's ModelCheckpoint states."""
    scores = {}
    for state in callbacks.values():
        if isinstance(state, dict) and state.get("monitor") and state.get("best_model_score") is not None:
            scores[f"best {state['monitor']}"] = float(state["best_model_score"])
    return scores


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise EncoderFolderError(f"{folder} is not an encoder folder: it has no {CONFIG_FILE} "
                                 "(make one with `train export --ckpt CKPT --out DIR`)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise EncoderFolderError(f"{path} is not valid JSON: {error}") from None
    if config.get("format") != FORMAT or "architecture" not in config:
        raise EncoderFolderError(f"{path} is not a siamkit encoder config (format {config.get('format')!r}, "
                                 f"expected {FORMAT!r}); export it again with `train export`")
    return config


def _info(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in ("format", "architecture", "preprocessing", "embedding_dim")}


def _offline(spec: dict[str, Any]) -> dict[str, Any]:
    init_args = {k: (None if k in _PRETRAINED_ARGS else v) for k, v in spec.get("init_args", {}).items()}
    return {"class_path": spec["class_path"], "init_args": init_args}


def _instantiate(spec: dict[str, Any], *args: Any) -> nn.Module:
    module_name, _, class_name = spec["class_path"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ConfigError(f"unknown class {spec['class_path']!r} in the encoder's architecture") from None
    return cls(*args, **spec.get("init_args", {}))
