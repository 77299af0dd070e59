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


# stands in for python where a test needs the files a command writes: a report's worth of files
# wherever a command is told to write
WRITER = """#!/usr/bin/env bash
while [ $# -gt 0 ]; do
  case $1 in --out | --trainer.default_root_dir)
    mkdir -p "$2" && for name in summary.md report.html roc.png metrics.json; do echo x > "$2/$name"; done ;;
  esac
  shift
done
"""


def run_script(args: list[str], out: Path, python: str | None = None,
               temporary: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": python or shutil.which("true"), "ACCELERATOR": "cpu", "OUT": str(out),
           **({"TMPDIR": str(temporary)} if temporary else {})}
    return subprocess.run(["bash", "scripts/gpu_check.sh", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("mode", [[], ["checks"], ["recipes"], ["demo"]],
                         ids=["plain", "checks", "recipes", "demo"])
def test_every_mode_runs_each_step_and_ends_in_its_table(mode, tmp_path):
    """...and leaves no folder of its own behind (its copies of the package and the tests, its runs)."""
    (tmp_path / "tmp").mkdir()
    result = run_script(mode, tmp_path / "out", temporary=tmp_path / "tmp")
    assert not list((tmp_path / "tmp").iterdir())
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| (?!check )\S", line)]
    steps = [line[3:] for line in result.stderr.splitlines() if line.startswith("== ")]
    assert len(rows) == len(steps) >= 1, result.stdout + result.stderr
    assert all(re.match(r"\| .+ \|\s+0 \|", row) for row in rows), rows


def test_an_unknown_mode_is_one_line_and_exit_2(tmp_path):
    result = run_script(["everything"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "usage: bash scripts/gpu_check.sh [checks|recipes|demo]"


@pytest.mark.parametrize("mode", ["checks", "recipes", "demo"])
def test_what_a_mode_leaves_in_out_all_comes_back_from_the_device(mode, tmp_path):
    """The device tool brings back at most 8 files from $OUT, no more than 2 folders down, with
    plain names; a report folder alone holds more, so only each report's table may go there."""
    writer = tmp_path / "python"
    writer.write_text(WRITER)
    writer.chmod(0o755)
    out = tmp_path / "out"
    assert run_script([mode], out, str(writer)).returncode == 0
    files = [path.relative_to(out) for path in out.rglob("*") if path.is_file()]
    assert 1 <= len(files) <= 8, files
    assert all(len(path.parts) <= 3 and re.fullmatch(r"[\w.-]+", path.name) for path in files), files
    if mode == "demo":
        assert {"demo_photos.md", "demo_hard.md", "demo_unseen.md"} <= {path.name for path in files}
