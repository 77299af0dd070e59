"""``TimmBackbone``: any timm model behind siamkit's backbone interface."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from siamkit.data.image_config import ImageConfig
from siamkit.errors import ConfigError, WeightsNotFoundError
from siamkit.models.backbones import Backbone
from siamkit.models.hub import OFFLINE_WEIGHTS, hub_downloads, not_downloaded
from siamkit.models.packaged_weights import (
    PACKAGED_WEIGHTS,
    convert_in_order,
    is_efficientnet_pytorch_layout,
    packaged_weights_file,
)
from siamkit.models.pooling import GeM, check_pooling
from siamkit.models.spec import records_init_args
from siamkit.models.weights import load_matching, read_weights


class TimmBackbone(Backbone):
    """Any timm model by name, pooled features without the classifier.

    Args:
        name: a timm model name (``timm.list_models()``).
        pretrained: True (timm's default weights, from the hub cache or downloaded); the short
            name of weights an installed package ships (``efficientnet-lite0``, with
            ``name: tf_efficientnet_lite0``: see ``siamkit.models.packaged_weights``); a local
            weights file (timm's naming, or EfficientNet-PyTorch's, converted); or False.
        pooling: "avg" (the model's own global pooling), or "gem" (generalised mean, CNNs only).
        image_size: input side in pixels (default: the model's own); CNNs take any size, and a
            smaller one trains faster where the images are small.
    """

    @records_init_args
    def __init__(self, name: str, pretrained: bool | str = False, trainable_blocks: Optional[int] = None,
                 grad_checkpointing: bool = False, pooling: str = "avg", image_size: Optional[int] = None):
        super().__init__()
        import timm

        check_pooling(pooling)

        if not timm.is_model(name):
            close = difflib.get_close_matches(name, timm.list_models(), n=5)
            raise ConfigError(f"unknown timm model {name!r}. Close matches: {', '.join(close) or 'none'}")
        local = _weights_file(pretrained, name) if isinstance(pretrained, str) else None
        self.net = _create_net(name, pretrained is True, pooling)
        if local:
            load_matching(self.net, _timm_named(self.net, read_weights(local), str(local)), str(local))
        data = timm.data.resolve_data_config({}, model=self.net)
        size = data["input_size"][-1] if image_size is None else image_size
        self.image_config = ImageConfig(size=size, mean=tuple(data["mean"]), std=tuple(data["std"]),
                                        interpolation=data.get("interpolation", "bicubic"))
        self.feature_dim = self.net.num_features
        self.any_input_size = not self.net.pretrained_cfg.get("fixed_input_size", False)
        self.pool = GeM() if pooling == "gem" else None
        self._mid_level_stage = _mid_level_stage(self.net)
        if self._mid_level_stage is not None:
            self.mid_level_dim = self._mid_level_stage["num_chs"]
        if self.pool is not None or image_size is not None:
            self._check_feature_maps(name, pooling)
        if grad_checkpointing:
            self.net.set_grad_checkpointing(True)
        self.set_trainable_blocks(trainable_blocks)

    def _check_feature_maps(self, name: str, pooling: str) -> None:
        """One forward pass at the configured size: a size the model cannot take, or GeM on a
        transformer's tokens, is refused before training."""
        size = self.image_config.size
        try:
            with torch.no_grad():
                shape = self.net.eval()(torch.zeros(1, 3, size, size)).shape
        except Exception as error:  # timm's own checks, e.g. a ViT's fixed patch grid
            first_line = (str(error).splitlines() or [""])[0]
            raise ConfigError(f"image_size {size} does not fit timm's {name} ({type(error).__name__}: "
                              f"{first_line}); leave image_size out") from None
        finally:
            self.net.train()
        if pooling == "gem" and len(shape) != 4:
            raise ConfigError(f"pooling: gem needs a CNN's feature maps, and timm's {name} gives "
                              f"{tuple(shape)} (a transformer's tokens); use pooling: avg")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.net(images)
        return self.pool(features) if self.pool is not None else features

    def with_mid_level(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._mid_level_stage is None:
            return super().with_mid_level(images)
        # a hook on the stage, as timm's own feature extraction does, so that the pooled features
        # are forward's whatever comes after the last stage (a head norm, an efficient head)
        stage = self.net.get_submodule(self._mid_level_stage["module"])
        maps = []
        handle = stage.register_forward_hook(lambda module, inputs, output: maps.append(output))
        try:
            pooled = self(images)
        finally:
            handle.remove()
        return pooled, maps[0].mean(dim=(-2, -1))

    def blocks(self) -> list[nn.Module]:
        """The stem, each stage (a transformer's blocks one by one) and the final layers, as
        timm groups them for its own layer-wise learning rates (``group_matcher``)."""
        from timm.models import group_parameters

        if not hasattr(self.net, "group_matcher"):
            blocks = [m for m in self.net.children() if any(True for _ in m.parameters())]
        else:
            named = dict(self.net.named_parameters())
            groups = group_parameters(self.net, self.net.group_matcher(coarse=True))
            blocks = [nn.ParameterList(named[name] for name in names) for _, names in sorted(groups.items())]
        return blocks + [self.pool] if self.pool is not None else blocks


def _mid_level_stage(net: nn.Module) -> Optional[dict]:
    """timm's record (``feature_info``) of the last stage whose map has twice the final map's
    resolution (stride 16 where the final one has 32), where that map is the stage module's
    output; None for a model without one (a ViT, whose stages all share one resolution)."""
    stages = getattr(net, "feature_info", None)
    if not isinstance(stages, list) or not stages:
        return None
    final = stages[-1]["reduction"]
    stage = next((stage for stage in reversed(stages) if stage["reduction"] * 2 == final), None)
    return stage if stage is not None and stage.get("hook_type", "forward") == "forward" else None


def _create_net(name: str, from_hub: bool, pooling: str) -> nn.Module:
    import timm

    options = {"num_classes": 0, **({"global_pool": ""} if pooling == "gem" else {})}
    if not from_hub:
        return timm.create_model(name, **options)
    with hub_downloads() as online:
        try:
            return timm.create_model(name, pretrained=True, **options)
        except Exception as error:
            raise WeightsNotFoundError(
                f"cannot get timm's pretrained weights for {name} (not in the hub cache, and "
                f"{not_downloaded(error, online)}). Give a local weights file: in a config "
                f"`pretrained: FILE` (or false to train from scratch), by name timm:{name}:FILE"
                f"{OFFLINE_WEIGHTS}"
            ) from None


def _weights_file(pretrained: str, name: str) -> Path:
    """The file ``pretrained`` names: packaged weights by short name, or a local path."""
    if pretrained in PACKAGED_WEIGHTS:
        wanted = PACKAGED_WEIGHTS[pretrained].timm_model
        if name != wanted:
            raise ConfigError(f"pretrained weights {pretrained!r} are for timm's {wanted}, not {name}: "
                              f"set name: {wanted}")
        return packaged_weights_file(pretrained)
    if not Path(pretrained).exists():
        known = ", ".join(PACKAGED_WEIGHTS)
        raise WeightsNotFoundError(f"weights file {pretrained} for timm {name} does not exist (packaged "
                                   f"weights by short name: {known}){_as_timm_tag(pretrained, name)}")
    return Path(pretrained)


def _as_timm_tag(pretrained: str, name: str) -> str:
    """Where ``pretrained`` is one of timm's tags for ``name``, how timm takes it: with the name."""
    import timm

    tags = timm.list_pretrained(f"{name}.*")
    tagged = next((t for t in (pretrained, f"{name}.{pretrained}") if t in tags), None)
    if tagged is None:
        return ""
    return f"; timm takes its own weights by the model's name: name: {tagged}, pretrained: true"


def _timm_named(net: nn.Module, state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """``state`` under ``net``'s names, without a classifier ``net`` does not have."""
    own = net.state_dict()
    if is_efficientnet_pytorch_layout(state):
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        return convert_in_order(state, own, source)
    classifier = net.pretrained_cfg.get("classifier") or ""
    return {k: v for k, v in state.items() if k in own or not (classifier and k.startswith(classifier + "."))}
