#!/usr/bin/env bash
# Sets up .venv (if needed), trains on the two bundled demo sets, and evaluates each model
# against the classical baselines on its held-out test split (reports in reports/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_SILENT=true
# beside the photos model, the pretrained ImageNet network used as it comes (no training): the
# start a fine-tuned model must beat, and what the cheap baselines are up against
declare -A pretrained=([digits]="" [photos]=",timm:tf_efficientnet_lite0:efficientnet-lite0")
for demo in digits photos; do
  run=runs/demo_$demo
  rm -rf "$run" "reports/demo_$demo"  # the demo's own folders: start fresh every time
  .venv/bin/train fit --config "demo_$demo.yaml" --trainer.default_root_dir "$run" --trainer.enable_progress_bar false
  .venv/bin/train export --ckpt "$run/checkpoints/last.ckpt" --out "$run/encoder" --quantize int8 \
    --check-data "demo:$demo"
  .venv/bin/train evaluate --data "demo:$demo" --methods "histogram,ssim,sift,phash,pdq${pretrained[$demo]},$run/encoder" \
    --out "reports/demo_$demo" --calibrate
done
echo
echo "demo done. Reports: reports/demo_digits/report.html, reports/demo_photos/report.html"
echo "encoders (calibrated): runs/demo_digits/encoder, runs/demo_photos/encoder"
