#!/usr/bin/env bash
# Sets up .venv (if needed) and runs the whole test suite on the CPU. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_MODE=offline WANDB_SILENT=true HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
