"""Which devices a user may name (``cpu``, ``cuda``, ``cuda:N``, ``mps``), checked against what
this machine has before anything is loaded onto one: torch's own error comes later and reads as
a crash."""

from __future__ import annotations

import re

from siamkit.errors import ConfigError
from siamkit.wording import counted


def check_device(name: str) -> str:
    """``name`` when this machine has it, else a ``ConfigError`` saying what it has."""
    if name == "cpu":
        return name
    if not re.fullmatch(r"cuda(:\d+)?|mps", name):
        raise ConfigError(f"unknown device {name!r}: use cpu, cuda, cuda:N or mps")
    import torch

    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("mps: no Apple GPU here; use cpu")
        return name
    if not torch.cuda.is_available():
        raise ConfigError(f"{name}: no CUDA GPU is available here; use cpu")
    index = int(name.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(f"{name}: this machine has {counted(torch.cuda.device_count(), 'CUDA GPU')}")
    return name
