#!/usr/bin/env bash
# Sets up .venv (if needed), trains on the two bundled demo sets, and evaluates each model
# against the classical baselines on its held-out test split (reports in reports/).
#   bash scripts/demo.sh                  # digits from scratch; photos: fine-tuning a pretrained network
#   bash scripts/demo.sh --with-scratch   # the photos recipe from scratch too, in the same table (+8 min)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  "" | --with-scratch) ;;
  *) echo "usage: bash scripts/demo.sh [--with-scratch]" >&2; exit 2 ;;
esac
bash scripts/setup.sh
export WANDB_SILENT=true

train() {  # train CONFIG [EXPORT OPTION...]: a fresh run of the config, its best checkpoint on the
  # val split exported with int8, checked on those val pairs (the photo runs validate on
  # demo:photos' val pairs: data.val_data)
  local config=$1 run=runs/${1%.yaml}
  shift
  rm -rf "$run"  # the demo's own run folder: start fresh every time
  .venv/bin/train fit --config "$config" --trainer.default_root_dir "$run" --trainer.enable_progress_bar false
  .venv/bin/train export --ckpt "$run" --out "$run/encoder" --quantize int8 "$@"
}

train demo_digits.yaml
rm -rf reports/demo_digits
.venv/bin/train evaluate --data demo:digits --methods histogram,ssim,sift,phash,pdq,runs/demo_digits/encoder \
  --out reports/demo_digits --calibrate

# the photos model fine-tunes ImageNet EfficientNet-Lite0; its output (head or backbone features),
# WiSE-FT weight and input sizes are chosen on the validation pairs. The table shows that network
# as it comes (224 px) and, as runs/demo_photos/encoder@start, its start at the demo's sizes, untrained
photo_models=runs/demo_photos/encoder
train demo_photos.yaml --choose-on-val
if [ "${1:-}" = --with-scratch ]; then
  train demo_photos_scratch.yaml --choose-on-val
  photo_models+=,runs/demo_photos_scratch/encoder
fi
rm -rf reports/demo_photos
.venv/bin/train evaluate --data demo:photos --out reports/demo_photos --calibrate \
  --methods "histogram,ssim,sift,phash,pdq,timm:tf_efficientnet_lite0:efficientnet-lite0,$photo_models"
echo
echo "demo done. Reports: reports/demo_digits/report.html, reports/demo_photos/report.html"
echo "encoders (calibrated): runs/demo_digits/encoder, ${photo_models//,/, }"
