"""Loading weights from local files: tensors only (safetensors, or torch's restricted
unpickler), and a clear message naming the keys when a file does not fit the model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from torch import nn

from siamkit.errors import ConfigError


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Weights from a ``.safetensors`` or a torch file (tensors only, never arbitrary pickles)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
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
    return bool(pretrained) and (Path(pretrained).suffix in (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
                                 or Path(pretrained).exists())
