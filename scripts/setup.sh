#!/usr/bin/env bash
# Creates .venv when absent and installs siamkit into it (editable, with the test tools).
# Idempotent: reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi

stamp=.venv/.siamkit-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: installing siamkit and its dependencies into .venv (first time: a few minutes)"
.venv/bin/python -m pip install -q --upgrade pip
# torch first, from the versions this project is built against (on this machine, from local disk)
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[dev]"
echo "$want" > "$stamp"
