"""One ``train fit`` at a time per run folder: a second one (the same command run twice, a resume
started while the run still trains) would write the same checkpoints over the first's."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from siamkit.data.cache import cache_dir
from siamkit.folders import lock

#: set to a rank above 0 in the processes that DDP, torchrun or SLURM start beside the first
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def hold_run_folder(run_folder: Path) -> int | None:
    """Holds ``run_folder`` for this fit, through a lock file in siamkit's cache named for its
    absolute path (the folder itself may not exist yet, and a run refused before it trains leaves
    none); returns the descriptor whose closing releases it. Only the first process of a run
    takes it (None in the others), and where the cache cannot be written the run goes on
    unguarded (None)."""
    if any(os.environ.get(name, "0") != "0" for name in RANK_VARIABLES):
        return None
    name = hashlib.sha256(str(run_folder.resolve()).encode()).hexdigest()[:24]
    try:
        (cache_dir() / "locks").mkdir(parents=True, exist_ok=True)
        descriptor = os.open(cache_dir() / "locks" / f"run-{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    return lock(descriptor, f"{run_folder} is being trained by another `train fit` still running: wait for "
                            "it to end, or train elsewhere with --trainer.default_root_dir runs/NEW_NAME")
