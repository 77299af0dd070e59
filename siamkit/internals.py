"""Every use siamkit makes of a library's private API outside ``SiamkitCLI``, wrapped here and
nowhere else, each because no public API does the job (tests/test_internals.py fails when a
library changes under one, and covers SiamkitCLI's overrides and the Lightning behaviour siamkit
builds on).

Imports are lazy: ``siamkit.models`` must not pull in open_clip until an open_clip backbone is
built, nor anything Lightning.
"""

from __future__ import annotations

from typing import Any


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX). torch's cpuinfo checks are
    private (``torch.cpu._is_avx512_bf16_supported``) but the only ones that say this; a torch
    without them is taken to mean no (float32, the safe choice)."""
    import torch

    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported",
                                                           "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def is_compile_error(error: BaseException) -> bool:
    """Whether ``error`` is torch.compile failing (dynamo or inductor: a backend that cannot
    compile the model here), told by the module torch raises it from, as torch offers no public
    base class for them."""
    return type(error).__module__.startswith(("torch._dynamo", "torch._inductor"))


def open_clip_vision_tower(embed_dim: int, vision_config: dict[str, Any], quick_gelu: bool) -> Any:
    """open_clip's image tower alone. Its public ``create_model`` builds the text tower too (for
    ViT-B-16, 63 M parameters more to allocate and initialise, then throw away)."""
    import open_clip

    return open_clip.model._build_vision_tower(embed_dim, vision_config, quick_gelu)


def workers_share_the_temp_folder() -> None:
    """Makes this process's multiprocessing temporary folder now, so that worker processes forked
    after it inherit and use it rather than each making its own. A worker ended by a signal (SIGTERM
    to the process group, which ``timeout`` sends) cannot remove its own: torch's DataLoader workers
    left a ``/tmp/pymp-*`` folder each, every time. This process removes the shared one when it
    exits. ``multiprocessing.util.get_temp_dir`` is undocumented, and the only way to do this."""
    import multiprocessing.util

    multiprocessing.util.get_temp_dir()
