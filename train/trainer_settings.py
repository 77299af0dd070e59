"""The trainer's options, checked before anything is built: where the run would write, the
hardware it asks for, and the counts Lightning leaves unchecked until it divides by them (a
``val_check_interval`` of 0 fails at the first training step)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from jsonargparse import Namespace
from pytorch_lightning.utilities.rank_zero import rank_zero_warn

from siamkit.errors import ConfigError
from siamkit.folders import why_unwritable
from siamkit.progress import bars_redraw
from siamkit.train.precision import emulated_bf16_note


def check_trainer_settings(trainer: Any) -> None:
    """``trainer``: the config's trainer section (a jsonargparse Namespace)."""
    root = Path(trainer.default_root_dir or ".")
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--trainer.default_root_dir {root} is a file; a run needs a folder there "
                          "(choose another path)")
    if reason := why_unwritable(root):
        raise ConfigError(f"--trainer.default_root_dir {root}: {reason}; choose a folder you can write to")
    if str(trainer.accelerator) in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--trainer.accelerator {trainer.accelerator}: torch sees no CUDA GPU on this "
                          "machine; use --trainer.accelerator auto (a GPU where there is one) or cpu")
    uses_cuda = will_use_cuda(trainer.accelerator)
    if note := emulated_bf16_note(trainer.precision, uses_cuda):
        rank_zero_warn(note)
    if str(trainer.precision) in ("16", "16-mixed") and not uses_cuda:
        raise ConfigError(
            f"precision {trainer.precision} (float16 mixed precision) needs a CUDA GPU, and this run is "
            "on the CPU. Use `--trainer.precision bf16-mixed` (works on CPU and recent GPUs) or 32."
        )
    _check_counts(trainer)


def lines_off_a_terminal(trainer: Any) -> None:
    """Where the output goes to a file or a pipe (``train fit ... > log``), whole lines. A config that
    leaves ``enable_progress_bar`` unset gets no bar: Lightning's draws there only when the run ends,
    so a log would show nothing for hours; ``EpochLines`` then prints a line per validation instead.
    And the model summary comes as a plain table: Rich's box, at a log's 80 columns, wraps its cells."""
    if bars_redraw(sys.stdout):  # where Lightning's bar and summary (Rich's) draw
        return
    named = [str(callback) for callback in trainer.get("callbacks") or []]
    if trainer.get("enable_progress_bar") is None and not any("ProgressBar" in name for name in named):
        trainer.enable_progress_bar = False
    if trainer.get("enable_model_summary") is not False and not any("ModelSummary" in name for name in named):
        summary = Namespace(class_path="pytorch_lightning.callbacks.ModelSummary",
                            init_args=Namespace(max_depth=1))
        trainer.callbacks = [*(trainer.get("callbacks") or []), summary]


def will_use_cuda(accelerator: object) -> bool:
    return str(accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def _check_counts(trainer: Any) -> None:
    for name in ("accumulate_grad_batches", "check_val_every_n_epoch"):
        value = trainer.get(name)
        if value is not None and value < 1:
            raise ConfigError(f"--trainer.{name} must be a whole number >= 1, not {value}")
    interval = trainer.get("val_check_interval")
    if isinstance(interval, int) and not isinstance(interval, bool) and interval < 1:
        raise ConfigError(f"--trainer.val_check_interval must be a whole number of batches >= 1 or a share "
                          f"of an epoch from 0 to 1.0, not {interval}")
