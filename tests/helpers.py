"""Running the ``train`` program in tests: in-process for speed, as a subprocess when a
test needs signals or several processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from siamkit.cli.program import main

#: A tiny, quick version of the digits demo: 16 px, batches of 16, no loader workers, plain SGD
#: (no moments: a third of AdamW's checkpoint to write, 45 MB) ...
TINY_WITH_LOGGERS = ["--config", "demo_digits.yaml", "--model.backbone.init_args.image_size", "16",
                     "--model.optimizer", "torch.optim.SGD", "--data.check_leaks", "off",
                     "--data.batch_size", "16", "--data.num_workers", "0",
                     "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
#: ... and without the CSV / W&B loggers.
TINY = [*TINY_WITH_LOGGERS, "--trainer.logger", "false"]

#: A fit on the CPU in float32, without loader workers, loggers, progress bar or model summary ...
QUIET_CPU_FIT = ["--trainer.logger", "false", "--trainer.precision", "32", "--trainer.accelerator", "cpu",
                 "--trainer.devices", "1", "--data.num_workers", "0",
                 "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
#: ... of one batch of each stage.
ONE_BATCH_FIT = ["--trainer.fast_dev_run", "true", *QUIET_CPU_FIT]
#: A ResNet-18 from scratch at 32 px, for the bundled configs that name a ResNet.
SMALL_RESNET = ["--model.backbone.init_args.name", "resnet18", "--model.backbone.init_args.weights", "null",
                "--model.backbone.init_args.image_size", "32"]

TRAIN = str(Path(sys.executable).parent / "train")


def run_train(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([TRAIN, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def start_train(args: list[str], cwd: Path, output) -> subprocess.Popen:
    """``train ARGS`` in the background, stdout and stderr going to the open file ``output``."""
    return subprocess.Popen([TRAIN, *args], cwd=cwd, stdout=output, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


#: files whose presence says a command finished: a refused command leaves none of them
COMPLETE_MARKERS = ("index.json", "config.json", "metrics.json", "duplicates.csv", "pairs.csv")


def assert_one_error_line(case: tuple[list[str], str], zoo: Path, tmp_path: Path, monkeypatch,
                          capsys) -> None:
    """``train ARGS`` ends in exit 2 and one error line holding the expected text, with nothing
    left behind that looks complete; ``{zoo}`` in the case stands for the zoo folder."""
    monkeypatch.chdir(tmp_path)
    args, expected = case
    args = [arg.replace("{zoo}", str(zoo)) for arg in args]
    shutil.rmtree(zoo / "out", ignore_errors=True)
    code = main(args)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert code == 2, err
    assert len(errors) == 1 and err.rstrip().endswith(errors[0]) and "Traceback" not in err, err
    assert expected.replace("{zoo}", str(zoo)) in errors[0]
    assert not any((zoo / "out" / marker).exists() for marker in COMPLETE_MARKERS)
    assert not list(tmp_path.rglob("*.ckpt")) and not list(tmp_path.rglob("config.yaml"))


def checkpoint_step(checkpoint: Path) -> int:
    """The training step a checkpoint was saved at."""
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["global_step"]
