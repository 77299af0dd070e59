"""Image encoders behind one interface: ``(B, 3, S, S) -> (B, feature_dim)``.

Every backbone states its own preprocessing (``image_config``) and its layer groups from
input to output (``blocks()``), which is all that freezing schedules, layer-wise learning
rates, export and scoring need to know. Three families:

- ``OpenClipBackbone``: the image tower of any open_clip model (the text tower is never built);
- ``TorchvisionBackbone``: the ResNet family;
- ``TimmBackbone`` (``siamkit.models.timm_backbone``): any timm model by name.

Pretrained weights come from the hub cache or a local file; when they cannot be had the
error names the model and tag and says how to point at a file or train from scratch.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from siamkit.data.image_config import IMAGENET_MEAN, IMAGENET_STD, ImageConfig
from siamkit.errors import ConfigError, WeightsNotFoundError
from siamkit.internals import open_clip_vision_tower
from siamkit.models.hub import NO_NETWORK, OFFLINE_WEIGHTS, hub_downloads, not_downloaded, torch_hub_can_get
from siamkit.models.pooling import GeM, check_pooling
from siamkit.models.spec import records_init_args
from siamkit.models.weights import is_weights_file, load_matching, read_weights


class Backbone(nn.Module):
    """Base class: subclasses set ``feature_dim`` and ``image_config`` and define ``forward``
    and ``blocks``."""

    feature_dim: int
    image_config: ImageConfig
    #: the unlock depth the backbone was configured with (None: everything trains)
    trainable_blocks: Optional[int] = None
    #: whether it takes images of other sizes than ``image_config``'s (a CNN with global pooling)
    any_input_size: bool = False
    #: the size of ``with_mid_level``'s second output (None: the backbone has no such features)
    mid_level_dim: Optional[int] = None

    def with_mid_level(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward``'s features and the average-pooled map of a stage at twice the final map's
        resolution, ``(B, feature_dim), (B, mid_level_dim)``, from one pass."""
        raise ConfigError(f"{type(self).__name__} has no mid-level features; use a timm CNN backbone, "
                          "or the head's or the backbone's output alone")

    def blocks(self) -> list[nn.Module]:
        """Layer groups, input side first (stem, stages / transformer blocks, final norm); by
        default one, the whole network (``trainable_blocks`` and ``layer_decay`` then take it whole)."""
        return [self]

    def set_trainable_blocks(self, count: Optional[int]) -> None:
        """Unlock only the last ``count`` layer groups (0 locks the whole tower; None unlocks all)."""
        blocks = self.blocks()
        if count is not None and not 0 <= count <= len(blocks):
            raise ConfigError(
                f"trainable_blocks={count} is beyond {type(self).__name__}'s depth: it has {len(blocks)} "
                f"layer groups (use 0..{len(blocks)}, or null for all)"
            )
        self.trainable_blocks = count
        self.requires_grad_(False)
        for parameter in self.trainable_parameters():
            parameter.requires_grad_(True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters the configured unlock depth trains (whether or not a schedule has
        them frozen for now)."""
        if self.trainable_blocks is None:
            return list(self.parameters())
        blocks = self.blocks()[-self.trainable_blocks:] if self.trainable_blocks else []
        return [parameter for block in blocks for parameter in block.parameters()]


def check_backbone(backbone: object, training: bool = False) -> None:
    """Refuses, in one TypeError, a module without what every backbone states: a user's own
    network passed as it is, where an AttributeError deep in the encoder would say nothing useful.
    ``training`` also needs a ``Backbone``, whose layer groups freezing and layer-wise rates take."""
    base = Backbone if training else nn.Module
    missing = [name for name, kind in (("feature_dim", int), ("image_config", ImageConfig))
               if not isinstance(getattr(backbone, name, None), kind)]
    if not isinstance(backbone, base):
        missing.append(f"{'siamkit.models.Backbone' if training else 'nn.Module'} as its base")
    if missing:
        raise TypeError(
            f"{type(backbone).__name__} is no siamkit backbone: it lacks {' and '.join(missing)}. A backbone "
            "of your own subclasses siamkit.models.Backbone and sets feature_dim (the size D of forward's "
            "(B, D) output) and image_config (siamkit.models.ImageConfig: its input size, mean and std); "
            "TimmBackbone and TorchvisionBackbone wrap timm's and torchvision's networks")


def check_open_clip_model(model_name: str) -> None:
    import open_clip

    if model_name not in open_clip.list_models():
        close = difflib.get_close_matches(model_name, open_clip.list_models(), n=5)
        raise ConfigError(f"unknown open_clip model {model_name!r}. "
                          f"Close matches: {', '.join(close) or 'none'}")


class OpenClipBackbone(Backbone):
    """The image tower of an open_clip model.

    Args:
        model_name: any name ``open_clip.list_models()`` knows (e.g. ``ViT-B-16-plus-240``).
        pretrained: an open_clip tag (e.g. ``laion400m_e32``, from the hub cache or downloaded),
            a local weights file (a full CLIP state dict or the image tower's), or None.
        trainable_blocks: unlock only the last N layer groups; None trains everything.
        grad_checkpointing: recompute activations in backward to save memory.
    """

    @records_init_args
    def __init__(self, model_name: str, pretrained: Optional[str] = None,
                 trainable_blocks: Optional[int] = None, grad_checkpointing: bool = False):
        super().__init__()
        import open_clip

        check_open_clip_model(model_name)
        config = open_clip.get_model_config(model_name)
        tag_config = {} if is_weights_file(pretrained) or not pretrained else self._tag_config(model_name,
                                                                                               pretrained)
        quick_gelu = config.get("quick_gelu", False) or tag_config.get("quick_gelu", False)
        self.visual = open_clip_vision_tower(config["embed_dim"], config["vision_cfg"], quick_gelu)
        if pretrained:
            self._load(model_name, pretrained, tag_config)
        size = self.visual.image_size
        preprocess = config.get("preprocess_cfg", {})
        self.image_config = ImageConfig(
            size=size[0] if isinstance(size, (tuple, list)) else size,
            mean=tuple(tag_config.get("mean") or preprocess.get("mean") or open_clip.OPENAI_DATASET_MEAN),
            std=tuple(tag_config.get("std") or preprocess.get("std") or open_clip.OPENAI_DATASET_STD),
            interpolation=tag_config.get("interpolation") or preprocess.get("interpolation") or "bicubic",
        )
        self.feature_dim = config["embed_dim"]
        if grad_checkpointing:
            self.visual.set_grad_checkpointing(True)
        self.set_trainable_blocks(trainable_blocks)

    @staticmethod
    def _tag_config(model_name: str, tag: str) -> dict:
        import open_clip

        tag_config = open_clip.get_pretrained_cfg(model_name, tag)
        if not tag_config:
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            raise ConfigError(
                f"open_clip has no pretrained tag {tag!r} for {model_name}; its tags: "
                f"{', '.join(tags) or 'none'}. "
                "Set `pretrained` to a tag, a local weights file, or null."
            )
        return tag_config

    def _load(self, model_name: str, pretrained: str, tag_config: dict) -> None:
        import open_clip

        if is_weights_file(pretrained):
            if not Path(pretrained).exists():
                raise WeightsNotFoundError(f"weights file {pretrained} for "
                                           f"open_clip {model_name} does not exist")
            path, source = Path(pretrained), pretrained
        else:
            with hub_downloads() as online:
                try:
                    path = open_clip.pretrained.download_pretrained(tag_config)
                except Exception as error:  # offline, hub unreachable, gated repo ...
                    raise WeightsNotFoundError(
                        f"cannot get pretrained weights for open_clip {model_name} tag {pretrained!r} "
                        f"(not in the hub cache, and {not_downloaded(error, online)}). Give a local weights "
                        f"file in place of the tag (e.g. open_clip_pytorch_model.bin for {model_name}/"
                        f"{pretrained}): in a config `pretrained: FILE` (or null to train from scratch), "
                        f"by name open_clip:{model_name}:FILE{OFFLINE_WEIGHTS}"
                    ) from None
            source = f"{model_name}/{pretrained}"
        state = read_weights(path)
        if any(k.startswith("visual.") for k in state):
            state = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
        load_matching(self.visual, state, source)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, embed_dim): the tower's projected image embedding (not normalised)."""
        return self.visual(images)

    def blocks(self) -> list[nn.Module]:
        visual = self.visual
        if hasattr(visual, "transformer"):  # VisionTransformer
            return [_ParamGroup(visual, ["conv1", "class_embedding", "positional_embedding", "ln_pre"]),
                    *visual.transformer.resblocks,
                    _ParamGroup(visual, ["ln_post", "proj", "attn_pool", "ln_pool"])]
        if hasattr(visual, "trunk"):  # TimmModel
            return [visual.trunk, visual.head]
        return [_ParamGroup(visual, ["conv1", "bn1", "conv2", "bn2", "conv3", "bn3"]),  # ModifiedResNet
                visual.layer1, visual.layer2, visual.layer3, visual.layer4, visual.attnpool]


class _ParamGroup(nn.Module):
    """Some direct children and parameters of ``owner`` seen as one layer group (not registered
    as a child, so the owner's state dict is unchanged)."""

    def __init__(self, owner: nn.Module, names: list[str]):
        super().__init__()
        self._members = [(n, getattr(owner, n)) for n in names if getattr(owner, n, None) is not None]

    def parameters(self, recurse: bool = True):
        for _, member in self._members:
            if isinstance(member, nn.Parameter):
                yield member
            else:
                yield from member.parameters(recurse)

    def requires_grad_(self, requires_grad: bool = True) -> "_ParamGroup":
        for parameter in self.parameters():
            parameter.requires_grad_(requires_grad)
        return self


_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


def _torchvision_weights_missing(name: str, weights: str, why: str) -> str:
    return (f"cannot get torchvision weights {weights!r} for {name} (not in the torch hub cache "
            f"{torch.hub.get_dir()}, and {why}). Give a local weights file: in a config `weights: FILE` (or "
            f"null to train from scratch){OFFLINE_WEIGHTS}")


class TorchvisionBackbone(Backbone):
    """A torchvision ResNet without its classifier.

    Args:
        name: resnet18 / 34 / 50 / 101 / 152.
        weights: a torchvision weights name (``IMAGENET1K_V2``, ``DEFAULT``), a local weights
            file, or None for random initialisation.
        image_size: input side in pixels.
        small_input: a 3x3 stride-1 stem without max-pooling, for images of 32-64 px.
        pooling: "avg" (torchvision's), or "gem" (generalised mean, learnable p from 3: SSCD's).
    """

    any_input_size = True

    @records_init_args
    def __init__(self, name: str = "resnet50", weights: Optional[str] = None, image_size: int = 224,
                 small_input: bool = False, trainable_blocks: Optional[int] = None, pooling: str = "avg"):
        super().__init__()
        import torchvision

        check_pooling(pooling)

        if name not in _RESNETS:
            close = difflib.get_close_matches(name, _RESNETS, n=3)
            raise ConfigError(f"unknown torchvision backbone {name!r}; choose one of {', '.join(_RESNETS)}"
                              + (f" (did you mean {', '.join(close)}?)" if close else ""))
        hub_weights = None if weights is None or is_weights_file(weights) else self._weights_enum(name,
                                                                                                  weights)
        if hub_weights is not None and not torch_hub_can_get(hub_weights.url):
            raise WeightsNotFoundError(_torchvision_weights_missing(name, weights, NO_NETWORK))
        try:
            net = torchvision.models.get_model(name, weights=hub_weights)
        except Exception as error:
            why = not_downloaded(error, online=True)
            raise WeightsNotFoundError(_torchvision_weights_missing(name, weights, why)) from None
        self.feature_dim = net.fc.in_features
        net.fc = nn.Identity()
        if small_input:
            net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        if weights is not None and hub_weights is None:
            if not Path(weights).exists():
                raise WeightsNotFoundError(f"weights file {weights} for {name} does not exist")
            state = {k: v for k, v in read_weights(weights).items() if not k.startswith("fc.")}
            load_matching(net, state, weights)
        if pooling == "gem":
            net.avgpool = GeM()
        self.net = net
        self.image_config = ImageConfig(size=image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                                        interpolation="bilinear")
        self.set_trainable_blocks(trainable_blocks)

    @staticmethod
    def _weights_enum(name: str, weights: str):
        import torchvision

        try:
            return torchvision.models.get_model_weights(name)[weights]
        except KeyError:
            names = [w.name for w in torchvision.models.get_model_weights(name)] + ["DEFAULT"]
            raise ConfigError(f"{name} has no torchvision weights {weights!r}; choose one of "
                              f"{', '.join(names)}, a local file, or null") from None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, 512 or 2048) globally pooled features."""
        return self.net(images)

    def blocks(self) -> list[nn.Module]:
        n = self.net
        return [_ParamGroup(n, ["conv1", "bn1"]), n.layer1, n.layer2, n.layer3,
                _ParamGroup(n, ["layer4", "avgpool"])]
