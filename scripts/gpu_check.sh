#!/usr/bin/env bash
# Every GPU check of siamkit in one go, for a lent machine (about 7 minutes on an H100 or H200),
# ending in one table: the CUDA tests, augmentation in the workers against on the GPU for the
# photo demo's recipe, ViT-B-16 training steps (Lightning against a hand loop, MFU) as they come
# and with --compile --fused, and a short photo-demo fit with augmentation on the GPU.
#
#   here, once:   bash scripts/gpu_wheels.sh        # what the machine lacks, into .whl/
#   there:        bash scripts/gpu_check.sh         # (device run, carry [".whl"], timeout 600)
#   here, dry:    PYTHON=.venv/bin/python ACCELERATOR=cpu bash scripts/gpu_check.sh   # the plumbing,
#                                                   # on tiny sizes (the figures mean nothing)
#
# The machine has no siamkit install and no network: its folders are copied into one package on
# PYTHONPATH, the carried wheels installed into /tmp/site, and pytest runs from a folder without a
# siamkit/ directory in it. W&B and pdqhash are absent there: runs use no logger and no leak check.
# Logs and the reports' tables go to $OUT (the device tool brings back 8 files) or /tmp/gpu_check.
# `bash scripts/gpu_check.sh recipes` instead compares the fine-tuning recipes of
# scripts/compare_recipes.py at GPU scale (600 steps of 64 at 224 px; a call of its own there);
# `bash scripts/gpu_check.sh demo` runs the photo demo's config with the GPU's steps and size
# (demo_photos.yaml, 200 epochs at 224 px: 307,200 images, about 4 min at the 1,235-1,312 images/s
# an H200 trained Lite0 at 224 px, plus the validations, fitted into DEMO_MINUTES (5) of wall
# time by --time_budget.minutes, so that it and the checks fit one session's 15 device minutes;
# DEMO_EPOCHS=N for fewer; DEMO_SIZE=64 for the CPU demo's size, whose 200 epochs this CPU
# measured in docs/benchmarks.md), exports it chosen on val and scores the test pairs,
# and those of demo:photos-hard and demo:photos-unseen (edits the recipe never trains on).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-checks}
case $mode in
  checks | recipes | demo) ;;
  *) echo "usage: bash scripts/gpu_check.sh [checks|recipes|demo]" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
case $PYTHON in */*) PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON") ;; esac  # tests run elsewhere
ACCELERATOR=${ACCELERATOR:-gpu}
LOGS=${OUT:-/tmp/gpu_check}
mkdir -p "$LOGS"
repo=$PWD

package=$(mktemp -d)
demo=
trap 'rm -rf "$package" "${testroot:-}" "$demo"' EXIT  # copies and runs: what matters is in $LOGS
mkdir "$package/siamkit"
cp -r siamkit/* "$package/siamkit/"
for folder in cli configs data evaluation models retrieval scoring train; do cp -r "$folder" "$package/siamkit/$folder"; done
export PYTHONPATH=$package
if [ -d .whl ]; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=$package:/tmp/site
fi
export WANDB_MODE=offline HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1
testroot=$(mktemp -d)
cp -r tests pyproject.toml "$testroot/"

if [ "$ACCELERATOR" = gpu ]; then
  workers=14; batch=256; vit=(--backbone open_clip:ViT-B-16 --image-size 224 --batch-size 256 --steps 20 --warmup 5)
  augment=(--workers 14 --batch-size 256 --steps 50 --warmup 15 --rounds 1); epochs=4
  recipes=(--steps 600 --image-size 224 --batch-size 64)
  demo_size=(--trainer.max_epochs "${DEMO_EPOCHS:-200}" --model.backbone.init_args.image_size "${DEMO_SIZE:-224}"
             --time_budget.minutes "${DEMO_MINUTES:-5}")
else
  workers=2; batch=32; vit=(--backbone resnet18 --image-size 32 --batch-size 16 --steps 3 --warmup 1)
  augment=(--workers 2 --batch-size 32 --steps 8 --warmup 3 --rounds 1); epochs=1
  recipes=(--steps 4 --image-size 64 --batch-size 16)
  demo_size=(--trainer.max_steps 4 --data.crops_per_image 8)
fi
precision=$([ "$ACCELERATOR" = gpu ] && echo bf16-mixed || echo 32)
results=()
step() {  # step NAME LOGFILE COMMAND...: runs it, keeps its log, and its last line for the table
  local name=$1 log=$LOGS/$2; shift 2
  local start=$SECONDS
  echo "== $name" >&2
  "$@" >"$log" 2>&1
  local status=$?
  results+=("$(printf '| %-28s | %4s | %4ss | %s |' "$name" "$status" "$((SECONDS - start))" "$(grep -v '^\s*$' "$log" | tail -1 | cut -c1-240)")")
}
# A report folder holds more files than the device tool brings back from $OUT (8 at most): only its
# table comes back, and is printed
keep_summary() {  # keep_summary REPORT_DIR NAME
  cp "$1/summary.md" "$LOGS/$2" 2>/dev/null && cat "$LOGS/$2"
}

if [ "$mode" = recipes ]; then
  step "fine-tuning recipes on val" recipes.log "$PYTHON" scripts/compare_recipes.py --accelerator "$ACCELERATOR" \
    "${recipes[@]}"
elif [ "$mode" = demo ]; then
  demo=$(mktemp -d)
  step "photo demo fit" demo_fit.log "$PYTHON" -m siamkit.cli.program fit --config demo_photos.yaml \
    "${demo_size[@]}" --trainer.accelerator "$ACCELERATOR" --data.num_workers "$workers" --trainer.logger false \
    --data.check_leaks off --trainer.enable_progress_bar false --trainer.default_root_dir "$demo"
  step "export, chosen on val" demo_export.log "$PYTHON" -m siamkit.cli.program export \
    --ckpt "$demo/checkpoints/last.ckpt" --out "$demo/encoder" --choose-on-val --check-data demo:photos  # as demo.sh
  step "demo:photos test" demo_evaluate.log "$PYTHON" -m siamkit.cli.program evaluate --data demo:photos \
    --methods "histogram,sift,timm:tf_efficientnet_lite0:efficientnet-lite0,$demo/encoder" --out "$demo/photos"
  keep_summary "$demo/photos" demo_photos.md
  for edits in hard unseen; do  # edits the recipe never trains on: does it keep its start's robustness?
    step "demo:photos-$edits test" "demo_$edits.log" "$PYTHON" -m siamkit.cli.program evaluate \
      --data "demo:photos-$edits" --methods "histogram,sift,$demo/encoder" --out "$demo/$edits"
    keep_summary "$demo/$edits" "demo_$edits.md" | cut -d'|' -f1-3
  done
else
  step "CUDA tests" cuda_tests.log bash -c "cd '$testroot' && '$PYTHON' -m pytest -q -p no:cacheprovider -m gpu \
    tests/train/test_gpu_steps.py tests/train/test_mixed_precision.py tests/train/test_fit.py"
  step "augment: workers vs GPU" augment_on.log "$PYTHON" scripts/bench_augment_on.py --accelerator "$ACCELERATOR" "${augment[@]}"
  step "train step" train_step.log "$PYTHON" scripts/bench_train_step.py "${vit[@]}" --rounds 1 \
    --precision "$precision" --accelerator "$ACCELERATOR"
  step "train step, compile+fused" train_step_compiled.log "$PYTHON" scripts/bench_train_step.py "${vit[@]}" \
    --rounds 1 --precision "$precision" --accelerator "$ACCELERATOR" --compile --fused
  demo=$(mktemp -d)
  step "photo demo fit, GPU augment" demo_fit.log "$PYTHON" -m siamkit.cli.program fit --config demo_photos_scratch.yaml \
    --trainer.accelerator "$ACCELERATOR" --data.augment_on device --data.num_workers "$workers" \
    --data.batch_size "$batch" --trainer.max_epochs "$epochs" --trainer.logger false --data.check_leaks off \
    --trainer.enable_progress_bar false --trainer.default_root_dir "$demo"
fi

echo
echo "| check                        | exit | time | last line of its log ($LOGS) |"
echo "|---|---:|---:|---|"
printf '%s\n' "${results[@]}"
cd "$repo"
