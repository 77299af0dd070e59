"""The precision a run gets when its config leaves ``trainer.precision`` out: 16-bit mixed
precision where the hardware computes in 16 bits natively, float32 elsewhere.

Lightning's own default is float32 everywhere, and ``bf16-mixed`` is not a safe choice either:
CPUs without AVX512-BF16 or AMX emulate bf16, at about half float32's speed (ResNet-18 at
64 px, batch 64: 66 against 140 images/s on a 2-core Xeon without them), while on CPUs with
them it is the faster one (253 against 166 images/s on a 2-core EPYC with AVX512-BF16) -- but
not for depthwise convolutions, which such CPUs run slower in bf16 (EfficientNet-Lite0 at 64 px,
batch 128, channels-last: 196 against 237 images/s, and 218 against 373 with its first three
layer groups frozen), so a backbone with them trains in float32 on CPUs.
"""

from __future__ import annotations

import torch
from torch import nn

from siamkit.internals import cpu_has_native_bf16


def native_precision(uses_cuda: bool, backbone: nn.Module | None = None) -> str:
    if uses_cuda:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_native_bf16() and not has_depthwise_convolutions(backbone) else "32-true"


def has_depthwise_convolutions(module: nn.Module | None) -> bool:
    return module is not None and any(isinstance(m, nn.Conv2d) and 1 < m.groups == m.in_channels
                                      for m in module.modules())


def emulated_bf16_note(precision: object, uses_cuda: bool) -> str | None:
    """A note for a run that asks for bf16 on a CPU that only emulates it, else None."""
    if uses_cuda or "bf16" not in str(precision) or cpu_has_native_bf16():
        return None
    return (f"precision {precision} on this CPU is emulated (no AVX512-BF16 or AMX) and about half as "
            "fast as float32; leave trainer.precision out (or set it to null) and siamkit picks "
            "the fastest precision for the machine")
