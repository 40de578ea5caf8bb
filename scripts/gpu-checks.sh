#!/usr/bin/env bash
# Every GPU check and benchmark of gansearch, in one call, for a CUDA machine lent by the device tool.
# Prepare here (PyPI reachable):  ./scripts/fetch-gpu-wheels.sh
# Then run there, carrying .whl:   bash scripts/gpu-checks.sh     (results under $OUT, default ./gpu-results)
# Takes about 6-8 minutes on one H100/H200.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export GANSEARCH_DISABLE_PLUGIN_AUTOLOAD=1
{ nvidia-smi; python3 -c "import torch, optuna; print('torch', torch.__version__, 'optuna', optuna.__version__)"; } \
  > "$OUT/env.txt" 2>&1
gs() { python3 -c "from gansearch.cli import main; main()" "$@"; }

# 1. CUDA paths: graph capture == eager, fallback, workers on one GPU, no leak
timeout 240 python3 -m pytest -q -p no:cacheprovider tests_gpu > "$OUT/tests_gpu.txt" 2>&1
echo "tests_gpu exit $?" >> "$OUT/tests_gpu.txt"

# 2. benchmarks, each printing its ratios measured in one run
timeout 150 gs bench --device cuda --resolution 32 --width 32 --batch-size 64 --steps 300 \
  -o "$OUT/bench32.json" > "$OUT/bench32.txt" 2>&1
timeout 150 gs bench --device cuda --resolution 64 --width 64 --batch-size 128 --steps 200 \
  -o "$OUT/bench64.json" > "$OUT/bench64.txt" 2>&1

# 3. the quickstart on the GPU (devices: auto picks it), timing only
cp studies/quickstart.yaml "$OUT/quickstart.yaml"
{ time timeout 120 gs run "$OUT/quickstart.yaml" --no-progress; } > "$OUT/quickstart.txt" 2>&1
rm -rf "$OUT/runs"
tail -n 3 "$OUT"/*.txt
