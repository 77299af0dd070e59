"""Encoder: a trained backbone + projection head that lives on without Lightning.

An encoder folder is self-describing and pickle-free: ``model.safetensors`` holds the
weights of the backbone and head (no optimizer, no text tower), ``config.json`` the
``EncoderCard`` (architecture, preprocessing, embedding size, fingerprint, provenance,
metrics, calibrated threshold).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from siamkit.data.image_config import ImageConfig
from siamkit.data.preprocess import Preprocess
from siamkit.devices import check_device
from siamkit.errors import ConfigError, WeightsNotFoundError
from siamkit.models.backbones import check_backbone
from siamkit.models.card import CONFIG_FILE, PREPROCESSING_MARK, EncoderCard, EncoderFolderError
from siamkit.models.checkpoints import (
    read_checkpoint,
    recorded_start,
    refuse_checkpoint_folder,
    run_checkpoint,
)
from siamkit.models.embedder import Embedder
from siamkit.models.folder_checks import WEIGHTS_FILE, check_card, fingerprint, read_encoder_weights
from siamkit.models.input_normalization import InputNormalization
from siamkit.models.spec import EncoderSpec, ModuleSpec
from siamkit.models.weights import is_weights_file, load_matching
from siamkit.runtimes import START_SUFFIX


class Encoder(nn.Module, Embedder):
    """Images -> L2-normalised embeddings, ``(B, 3, S, S) uint8 -> (B, E) float32``.

    Args:
        backbone: a ``Backbone`` (it brings its ``image_config``).
        head: ``(B, D) -> (B, E)``; None uses the backbone's features, L2-normalised.
        spec: how to rebuild backbone and head (``EncoderSpec.of(backbone, head)`` by default).
        card: the rest of config.json: provenance, metrics, threshold (made when first asked
            for, so a backbone that cannot be rebuilt from a file still trains).

    ``memory_format``: the layout images enter the backbone in (``torch.channels_last`` for a
    backbone stored that way, as ``SiameseModule(channels_last=True)`` does). ``scales``: the
    spec's input sizes (see ``EncoderSpec``; ``at_scales`` makes a multi-scale encoder).
    ``mid_level``: whether the backbone's mid-level features join its pooled ones (see
    ``pooled_features``; ``with_mid_level`` makes such an encoder).
    """

    runtime = "torch"

    def __init__(self, backbone: nn.Module, head: Optional[nn.Module], spec: Optional[EncoderSpec] = None,
                 card: Optional[EncoderCard] = None):
        super().__init__()
        check_backbone(backbone)
        self.backbone = backbone
        self.normalize = InputNormalization(backbone.image_config)
        self.head = head
        self.preprocess = Preprocess(backbone.image_config)
        self.memory_format = torch.contiguous_format
        self.scales = spec.scales if spec is not None else (1.0,)
        if self.scales != (1.0,) and not self.any_input_size:
            raise ConfigError(f"{type(backbone).__name__} takes only its own input size "
                              f"({backbone.image_config.size} px), so it cannot embed at scales "
                              f"{list(self.scales)}; it embeds at scales [1] only")
        self.mid_level = spec.mid_level if spec is not None else False
        if self.mid_level and (head is not None or backbone.mid_level_dim is None):
            raise ConfigError(f"{type(backbone).__name__} has no mid-level features (a timm CNN has them)"
                              if head is None else "mid-level features are the backbone's: they take no head")
        self._spec, self._card = spec, card
        self.eval()

    @property
    def card(self) -> EncoderCard:
        if self._card is None:
            spec = self._spec or EncoderSpec.of(self.backbone, self.head)
            self._card = EncoderCard(spec, self.backbone.image_config, self.embedding_dim,
                                     initialised_from=_start_of(spec))
        return self._card

    @card.setter
    def card(self, card: EncoderCard) -> None:
        self._card = card

    @property
    def any_input_size(self) -> bool:
        """Whether the backbone takes other sizes than its own (a CNN with global pooling), and so
        the encoder can embed at several (``scales``)."""
        return getattr(self.backbone, "any_input_size", False)

    @property
    def embedding_dim(self) -> int:
        if self.head is not None:
            return self.head.out_dim
        return self.backbone.feature_dim + (self.backbone.mid_level_dim if self.mid_level else 0)

    @property
    def fingerprint(self) -> str:
        """Which weights made an embedding (see ``fingerprint``), computed once."""
        if self.card.fingerprint is None:
            self.card.fingerprint = fingerprint(self)
        return self.card.fingerprint

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) uint8, resized and cropped by ``preprocess`` -> (B, E) float32 unit vectors."""
        normalized = self.normalize(images)
        return mean_direction([self.output(self.pooled_features(normalized, scale)) for scale in self.scales])

    def pooled_features(self, normalized: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """Normalised (B, 3, S, S) images -> the backbone's (B, D) features at ``scale``; with
        ``mid_level``, joined by its mid-level ones (``join_mid_level``)."""
        if self.mid_level:
            return join_mid_level(*self.backbone.with_mid_level(self.resized(normalized, scale)))
        return self.backbone(self.resized(normalized, scale))

    def resized(self, normalized: torch.Tensor, scale: float) -> torch.Tensor:
        """Normalised (B, 3, S, S) images at ``scale`` * S, in the backbone's memory format."""
        if scale != 1.0:
            size = round(self.image_config.size * scale)
            normalized = F.interpolate(normalized, size=(size, size), mode="bilinear", align_corners=False)
        return normalized.contiguous(memory_format=self.memory_format)

    def output(self, features: torch.Tensor) -> torch.Tensor:
        """Pooled features -> embeddings: the head's, or the features L2-normalised."""
        return self.head(features) if self.head is not None else F.normalize(features.float(), dim=-1)

    @torch.inference_mode()
    def embed_batch(self, images: torch.Tensor) -> np.ndarray:
        device = next(self.parameters()).device
        return self(images.to(device)).float().cpu().numpy()

    # --- the folder format -------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Writes ``model.safetensors`` and ``config.json`` (with the weights' fingerprint)."""
        from safetensors.torch import save

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        # written by Python: its OSError says a full disk is one (safetensors' save_file raises
        # "Error while serializing"), and the file gets the mode the umask gives every other file
        # (save_file's temporary file is readable by its writer alone: safetensors issue #782)
        metadata = {"format": self.card.format, PREPROCESSING_MARK: self.image_config.to_json()}
        (folder / WEIGHTS_FILE).write_bytes(save(state, metadata=metadata))
        self.card.fingerprint = fingerprint(self)
        self.card.write(folder)
        return folder

    @classmethod
    def load(cls, source: str | Path, device: str | torch.device = "cpu") -> "Encoder":
        """From an encoder folder (safetensors + config.json), a run folder, or a ``train fit``
        checkpoint; ``SOURCE@start``: the pretrained network SOURCE was fine-tuned from."""
        check_device(str(device))
        if str(source).endswith(START_SUFFIX) and not Path(source).exists():
            trained = Path(str(source).removesuffix(START_SUFFIX))
            start = cls.load(trained).starting_point(trained if trained.is_dir() else trained.parent)
            if start is None:
                raise ConfigError(f"{trained} was trained from scratch (its card names no pretrained start), "
                                  f"so {source} names no network")
            return start.to(device)
        source = Path(source)
        if source.is_dir() and not (source / CONFIG_FILE).exists() and (source / "checkpoints").is_dir():
            source = run_checkpoint(source)
        refuse_checkpoint_folder(source, "encoder")
        if source.is_file() and source.suffix == ".ckpt":
            return cls.from_checkpoint(source).to(device)
        if not source.exists():
            raise EncoderFolderError(f"encoder {source} does not exist (expected an encoder folder from "
                                     "`train export`, or a .ckpt from `train fit`)")
        card = EncoderCard.read(source)
        weights = source / WEIGHTS_FILE
        if not weights.is_file():
            raise EncoderFolderError(f"encoder folder {source} has no {WEIGHTS_FILE}; export it again with "
                                     "`train export --ckpt CKPT --out DIR`")
        try:
            encoder = cls.from_spec(card.architecture, card)
        except ConfigError as error:
            raise EncoderFolderError(f"{source / CONFIG_FILE}: {error}") from None
        state, marks = read_encoder_weights(weights)
        load_matching(encoder, state, str(weights))
        check_card(encoder, card, source, marks.get(PREPROCESSING_MARK))
        return encoder.to(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "Encoder":
        """From a ``train fit`` checkpoint, read with torch's restricted (``weights_only``)
        unpickler, which cannot run code from the file."""
        checkpoint = read_checkpoint(Path(path))
        spec = EncoderSpec.from_dict(checkpoint.encoder_spec, f"{path}: encoder architecture")
        card = EncoderCard(spec, ImageConfig(), 0, source=str(path), global_step=checkpoint.global_step,
                           trained_on=checkpoint.splits, validated_on=checkpoint.val_data,
                           metrics=checkpoint.best_scores)
        encoder = cls.from_spec(spec, card)
        if checkpoint.start is not None:  # a run started from an earlier model: that model's start
            encoder.card.initialised_from = recorded_start(checkpoint.start, str(path))
        load_matching(encoder, checkpoint.encoder_state, str(path))
        encoder.card.fingerprint = fingerprint(encoder)
        return encoder

    @classmethod
    def from_spec(cls, spec: EncoderSpec, card: Optional[EncoderCard] = None) -> "Encoder":
        """Builds the architecture, untrained (nothing downloaded); ``card``'s provenance is
        kept, its architecture, preprocessing and size are set from what was built."""
        start = _start_of(spec)
        spec = dataclasses.replace(spec, backbone=spec.backbone.offline())
        backbone = spec.backbone.build()
        head = spec.head.build(backbone.feature_dim) if spec.head else None
        encoder = cls(backbone, head, spec)
        if card is not None:
            encoder.card = EncoderCard(**{**card.__dict__, "architecture": spec,
                                          "preprocessing": backbone.image_config,
                                          "embedding_dim": encoder.embedding_dim})
        encoder.card.initialised_from = encoder.card.initialised_from or start
        return encoder

    def starting_point(self, folder: Optional[Path] = None) -> Optional["Encoder"]:
        """The pretrained backbone this encoder was fine-tuned from, as it came: its pooled
        features, no head (None for a model trained from scratch). Its weights are loaded as at
        the start of training (from the package, file or hub cache its arguments name); a weights
        file that is no longer where the card says is also looked for in ``folder`` (the encoder's
        own, moved from another machine), under its own name."""
        start = self.card.initialised_from
        if start is None:
            return None
        if folder is not None:
            start = _start_weights_in(folder, start)
        encoder = Encoder(start.build(), None, EncoderSpec(start, None, self.scales, self.mid_level))
        encoder.card.source = f"{self.card.source}@start"
        return encoder

    @classmethod
    def from_open_clip(cls, model_name: str, pretrained: Optional[str] = None) -> "Encoder":
        """An open_clip image tower as it comes (the seed article's CLIP score)."""
        from siamkit.models.backbones import OpenClipBackbone

        encoder = cls(OpenClipBackbone(model_name, pretrained), None)
        encoder.card.source = f"open_clip:{model_name}:{pretrained}"
        return encoder


def _start_weights_in(folder: Path, start: ModuleSpec) -> ModuleSpec:
    """``start``, its weights file taken from ``folder`` where it is missing from the path the
    card recorded (an absolute path on the machine that trained it) and a file of its name lies
    in ``folder``; otherwise as it is, with a missing file's error saying where to copy it."""
    recorded = start.pretrained
    if not (isinstance(recorded, str) and is_weights_file(recorded)) or Path(recorded).exists():
        return start
    copied = folder / Path(recorded).name
    if copied.is_file():
        return start.with_weights(str(copied))
    raise WeightsNotFoundError(f"the start's weights file {recorded} does not exist here; to score the "
                               f"start, copy that file into {folder}, where it is looked for by its name")


def _start_of(spec: EncoderSpec) -> Optional[ModuleSpec]:
    """The backbone's spec when it names pretrained weights: what fine-tuning started from."""
    return spec.backbone.with_weight_files_absolute() if spec.backbone.pretrained else None


#: the mid-level features' share of an embedding's length (half of the final features'): measured
#: on the photo demo's val pairs in docs/benchmarks.md, where 0.75 and 1 cost more on its own edits
MID_LEVEL_WEIGHT = 0.5


def join_mid_level(features: torch.Tensor, mid_level: torch.Tensor) -> torch.Tensor:
    """A backbone's pooled features and its mid-level ones (``Backbone.with_mid_level``) side by
    side, the second ``MID_LEVEL_WEIGHT`` times the first's length. An earlier stage's
    map keeps more of a region's fine detail than the final one, which copies of two regions of
    one texture differ in: intermediate layers retrieve instances better than the last one
    (Yue-Hei Ng, Yang and Davis 2015, "Exploiting local features from deep networks for image
    retrieval"). Averaged, not GeM-pooled: the stage ends in a linear bottleneck, whose values
    are signed. The mid-level part is scaled to the pooled features' length rather than both
    normalised: the same direction, and no vector whose length is the same for every image,
    which onnxruntime's int8 calibration cannot take (it histograms each tensor's range)."""
    features = features.float()
    length = features.norm(dim=-1, keepdim=True)
    return torch.cat([features, MID_LEVEL_WEIGHT * length * F.normalize(mid_level.float(), dim=-1)], dim=-1)


def mean_direction(embeddings: list[torch.Tensor]) -> torch.Tensor:
    """Unit vectors of each scale -> the unit vector of their sum (one scale: itself)."""
    if len(embeddings) == 1:
        return embeddings[0]
    return F.normalize(torch.stack(embeddings).float().sum(0), dim=-1)
