"""One ``train fit`` at a time per run folder: a second one (the same command run twice, a resume
started while the run still trains) would write the same checkpoints over the first's."""

from __future__ import annotations

import os
from pathlib import Path

from siamkit.folders import HeldPath, hold_path

#: set to a rank above 0 in the processes that DDP, torchrun or SLURM start beside the first
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def hold_run_folder(run_folder: Path) -> HeldPath | None:
    """Holds ``run_folder`` for this fit (``hold_path``); only the first process of a run takes it
    (None in the others)."""
    if any(os.environ.get(name, "0") != "0" for name in RANK_VARIABLES):
        return None
    return hold_path(run_folder, "run", f"{run_folder} is being trained by another `train fit` still "
                                        "running: wait for it to end, or train elsewhere with "
                                        "--trainer.default_root_dir runs/NEW_NAME")
