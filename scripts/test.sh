#!/usr/bin/env bash
# Sets up .venv (if needed), lints with ruff, and runs the whole test suite on the CPU (slow tests
# included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The report test drives Debian's chromium headless; install it where we may (root with apt-get).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing Debian's chromium for the report test"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check .
export WANDB_MODE=offline WANDB_SILENT=true HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
