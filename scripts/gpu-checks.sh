#!/usr/bin/env bash
# Every GPU check and benchmark of gansearch, in one call, for a CUDA machine lent by the device tool.
# Prepare here (PyPI reachable):  ./scripts/fetch-gpu-wheels.sh
# Run there with carry [".whl"]:  bash scripts/gpu-checks.sh [steps]   (results under $OUT, default ./gpu-results)
# steps: any of tests layouts bench quickstart precision search (default: tests layouts bench quickstart, under 6
# minutes on one H100/H200: their five time limits add up to 335 s; search, the 5-minute search benchmark of
# issue 6, runs only when named). layouts measures worker processes x trials per worker and keeps the fastest
# (in $OUT/cache) for `workers: auto`, which bench and quickstart then use. Each step has its own time limit, so one hang cannot eat the budget. gpu-summary.json holds every target, what was measured,
# and pass/fail (scripts/gpu-summary.py); the logs lie beside it.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
STEPS=${*:-tests layouts bench quickstart}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 GANSEARCH_DISABLE_PLUGIN_AUTOLOAD=1 GANSEARCH_CACHE=$OUT/cache
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
GS=(python3 -m gansearch)
{
  nvidia-smi
  python3 -c "import torch, optuna; print('torch', torch.__version__, 'cuda', torch.version.cuda,
    'cudnn', torch.backends.cudnn.version(), 'optuna', optuna.__version__)"
} > "$OUT/env.txt" 2>&1
has() { [[ " $STEPS " == *" $1 "* ]]; }

# 1. CUDA paths: graph capture equals eager, fallback, workers on one GPU, no memory growth (tests_gpu/)
if has tests; then
  timeout 100 python3 -m pytest -q -p no:cacheprovider --timeout 60 --durations=10 -rA tests_gpu \
    > "$OUT/tests_gpu.txt" 2>&1
  echo "tests_gpu exit $?" >> "$OUT/tests_gpu.txt"
fi

# 2a. packing: which layout (worker processes x trials per worker, trials on their own CUDA streams) trains fastest
if has layouts; then
  timeout 50 "${GS[@]}" bench --layouts --device cuda --resolution 32 --width 32 --batch-size 64 --steps 300 \
    -o "$OUT/layouts.json" > "$OUT/layouts.txt" 2>&1
fi

# 2. trainer speed: the classic loop against gansearch (workers: auto, the layout above), ratios measured in one run
if has bench; then
  timeout 75 "${GS[@]}" bench --device cuda --resolution 32 --width 32 --batch-size 64 --steps 300 \
    -o "$OUT/bench32.json" > "$OUT/bench32.txt" 2>&1
  timeout 65 "${GS[@]}" bench --device cuda --resolution 64 --width 64 --batch-size 128 --steps 200 \
    -o "$OUT/bench64.json" > "$OUT/bench64.txt" 2>&1
fi

# 2b. (only when named: precision) the 64x64 bench with gansearch in bf16, for choosing train.precision's default
if has precision; then
  timeout 80 "${GS[@]}" bench --device cuda --resolution 64 --width 64 --batch-size 128 --steps 200 \
    --precision bf16 -o "$OUT/bench64-bf16.json" > "$OUT/bench64-bf16.txt" 2>&1
fi

# 3. the quickstart on the GPU (devices: auto picks it): wall time and what each trial ran as
if has quickstart; then
  rm -rf /tmp/qs && mkdir -p /tmp/qs && cp studies/quickstart.yaml /tmp/qs/quickstart.yaml
  started=$(date +%s.%N)
  timeout 45 "${GS[@]}" run /tmp/qs/quickstart.yaml --no-progress > "$OUT/quickstart.txt" 2>&1
  echo "quickstart exit $? wall_s $(python3 -c "import time; print(round(time.time() - $started, 2))")" \
    >> "$OUT/quickstart.txt"
  python3 -c "import gansearch; df = gansearch.trials_dataframe('/tmp/qs/quickstart.yaml');
print(df[['number', 'state', 'score', 'duration_s', 'setup_s', 'train_s', 'score_s', 'artifacts_s', 'step_mode',
          'train_precision', 'graph_fallback', 'worker']].to_string())" >> "$OUT/quickstart.txt" 2>&1
fi

# 4. search quality (issue 6; only when named): best of 30 trials vs the DCGAN baseline, TPE vs random, pruning's
#    saving, shapes 32x32, 3 seeds: 9 studies at once, one worker each (one H200, 16 host cores: about 5 minutes)
if has search; then
  timeout 400 "${GS[@]}" bench-search --suites shapes32 --device cuda --trials 30 --seeds 3 \
    --variants tpe,random,tpe+median --jobs 9 --timeout 370 -o /tmp/bench-search > "$OUT/bench-search.txt" 2>&1
  cp /tmp/bench-search/bench-search.json "$OUT/" 2>/dev/null
fi
python3 scripts/gpu-summary.py "$OUT"
tail -n 4 "$OUT"/*.txt
