"""scripts/gpu_check.sh's own plumbing, on the CPU: a mistake in it would first show on a lent
GPU machine, at the cost of its few minutes. Every command it runs is a no-op here (PYTHON=true):
what is checked is its arguments, its steps and its table, not the figures."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_script(args: list[str], out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": shutil.which("true"), "ACCELERATOR": "cpu", "OUT": str(out)}
    return subprocess.run(["bash", "scripts/gpu_check.sh", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("mode", [[], ["checks"], ["recipes"], ["demo"]],
                         ids=["plain", "checks", "recipes", "demo"])
def test_every_mode_runs_each_step_and_ends_in_its_table(mode, tmp_path):
    result = run_script(mode, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| (?!check )\S", line)]
    steps = [line[3:] for line in result.stderr.splitlines() if line.startswith("== ")]
    assert len(rows) == len(steps) >= 1, result.stdout + result.stderr
    assert all(re.match(r"\| .+ \|\s+0 \|", row) for row in rows), rows


def test_an_unknown_mode_is_one_line_and_exit_2(tmp_path):
    result = run_script(["everything"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "usage: bash scripts/gpu_check.sh [checks|recipes|demo]"
