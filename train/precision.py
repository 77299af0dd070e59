"""The precision a run gets when its config leaves ``trainer.precision`` out: 16-bit mixed
precision where the hardware computes in 16 bits natively, float32 elsewhere.

Lightning's own default is float32 everywhere, and ``bf16-mixed`` is not a safe choice either:
CPUs without AVX512-BF16 or AMX emulate bf16, at about half float32's speed (ResNet-18 at
64 px, batch 64: 66 against 140 images/s on a 2-core Xeon without them), while on CPUs with
them it is the faster one (253 against 166 images/s on a 2-core EPYC with AVX512-BF16).
"""

from __future__ import annotations

import torch

from siamkit.internals import cpu_has_native_bf16


def native_precision(uses_cuda: bool) -> str:
    if uses_cuda:
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_native_bf16() else "32-true"


def emulated_bf16_note(precision: object, uses_cuda: bool) -> str | None:
    """A note for a run that asks for bf16 on a CPU that only emulates it, else None."""
    if uses_cuda or "bf16" not in str(precision) or cpu_has_native_bf16():
        return None
    return (f"precision {precision} on this CPU is emulated (no AVX512-BF16 or AMX) and about half as "
            "fast as float32; leave trainer.precision out (or set it to null) and siamkit picks "
            "the fastest precision for the machine")
