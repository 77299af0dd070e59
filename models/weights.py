"""Loading weights from local files: tensors only (safetensors, or torch's restricted
unpickler), and a clear message naming the keys when a file does not fit the model."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from siamkit.errors import ConfigError

WEIGHTS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Weights from a ``.safetensors`` or a torch file (tensors only, never arbitrary pickles)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    # memory-mapped where the file allows it (torch's zip format; not the legacy one of older files)
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """``load_state_dict_file``, with a truncated or foreign file said in one line."""
    if Path(path).is_dir():  # a model's folder, as a hub download leaves it
        inside = sorted(f"{path}/{f.name}" for f in Path(path).iterdir() if f.suffix in WEIGHTS_SUFFIXES)
        suffixes = ", ".join(WEIGHTS_SUFFIXES)
        listed = f" ({', '.join(inside)})" if inside else f", which holds none ({suffixes})"
        raise ConfigError(f"weights {path} is a folder: name the weights file in it{listed}")
    try:
        state = load_state_dict_file(path)
    except Exception as error:  # torch's and safetensors' many ways to say "not a weights file"
        raise ConfigError(f"cannot read weights file {path} ({type(error).__name__}): it is truncated, "
                          "not a weights file, or holds objects other than tensors") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path} is not a state dict of tensors")
    return state


def load_matching(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Loads ``state`` into ``module``; a file that does not fit says which keys differ."""
    check_weights_fit(module, state, source)
    module.load_state_dict(state)


def check_weights_fit(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Refuses, naming the keys, weights whose names or shapes differ from ``module``'s."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    reshaped = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        def listing(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")

        parts = [f"{label}: {listing(keys)}" for label, keys in
                 (("missing", missing), ("unexpected", unexpected), ("different shape", reshaped)) if keys]
        raise ConfigError(f"weights in {source} do not fit {type(module).__name__}: " + "; ".join(parts))


def is_weights_file(pretrained: Optional[str]) -> bool:
    return bool(pretrained) and (Path(pretrained).suffix in WEIGHTS_SUFFIXES or Path(pretrained).exists())
