#!/usr/bin/env bash
# Sets up .venv (if needed), then trains on the bundled digits demo and tests the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_SILENT=true
run=runs/demo_digits
rm -rf "$run"  # the demo's own folder: start it fresh every time
.venv/bin/train fit --config demo_digits.yaml --trainer.default_root_dir "$run"
.venv/bin/train test --config demo_digits.yaml --trainer.default_root_dir "$run" --trainer.logger false \
  --ckpt_path "$run/checkpoints/last.ckpt"
echo
echo "demo done: checkpoints in $run/checkpoints, metrics in $run/logs"
