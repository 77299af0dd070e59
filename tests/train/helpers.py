"""Running the ``train`` program in tests: in-process for speed, as a subprocess when a
test needs signals or several processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: A tiny, quick version of the digits demo: 16 px, batches of 16, no loader workers ...
TINY_WITH_LOGGERS = ["--config", "demo_digits.yaml", "--model.backbone.init_args.image_size", "16",
                     "--data.check_leaks", "off",
                     "--data.batch_size", "16", "--data.num_workers", "0",
                     "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
#: ... and without the CSV / W&B loggers.
TINY = [*TINY_WITH_LOGGERS, "--trainer.logger", "false"]

TRAIN = str(Path(sys.executable).parent / "train")


def run_train(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([TRAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
