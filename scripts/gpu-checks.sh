#!/usr/bin/env bash
# Every GPU check and benchmark of gansearch, in one call, for a CUDA machine lent by the device tool.
# Prepare here (PyPI reachable):  ./scripts/fetch-gpu-wheels.sh
# Run there with carry [".whl"]:  bash scripts/gpu-checks.sh [steps]   (results under $OUT, default ./gpu-results)
# steps (default: all but search; their time limits add up to 345 s, under 6 minutes on one H100/H200):
#   tests       tests_gpu/ (graphs equal eager, fallback, workers, interleaved trials, memory)          70 s
#   layouts     worker processes x interleaved trials per worker, the fastest kept for `workers: auto`  75 s
#   bench       the classic loop against gansearch at 32x32 and 64x64, ratios measured in one run      45 + 40 s
#   quickstart  `gansearch run studies/quickstart.yaml` with --timings, the GPU sampled meanwhile        40 s
#   precision   the quickstart again in bf16 (speed and best/baseline, for train.precision's default)   35 s
#   colorize    studies/colorize_shapes.yaml: where a translate trial's time goes                        40 s
#   search      (only when named) the shapes 32x32 search benchmark of issue 6, about 5 minutes
#   proxy       (only when named) does the short search predict longer training? bench-confirm, shapes 32x32,
#               3 study seeds at once (30 trials, then the 5 best and the baseline x 3 seeds x 4 the steps)
# Each step has its own time limit, so one hang cannot eat the budget. gpu-summary.json holds every target,
# what was measured and pass/fail (scripts/gpu-summary.py); the logs lie beside it.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
STEPS=${*:-tests layouts bench quickstart precision colorize}
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
  date -Iseconds
} > "$OUT/env.txt" 2>&1
has() { [[ " $STEPS " == *" $1 "* ]]; }

# study NAME FILE LIMIT [sed expression]: run a study file (edited by the sed expression) with --timings, sampling
# the GPU's utilisation every 100 ms meanwhile; the trial table follows in NAME.txt
study() {
  local name=$1 file=$2 limit=$3 edit=${4:-}
  rm -rf "/tmp/$name" && mkdir -p "/tmp/$name"
  sed -e "${edit:-s/^//}" "$file" > "/tmp/$name/study.yaml"
  nvidia-smi --query-gpu=timestamp,utilization.gpu --format=csv,noheader,nounits -lms 100 \
    > "$OUT/$name-gpu.csv" 2>/dev/null &
  local sampler=$!
  local started
  started=$(date +%s.%N)
  timeout "$limit" "${GS[@]}" run "/tmp/$name/study.yaml" --no-progress --timings "$OUT/$name-timings.json" \
    > "$OUT/$name.txt" 2>&1
  echo "$name exit $? wall_s $(python3 -c "import time; print(round(time.time() - $started, 2))")" >> "$OUT/$name.txt"
  kill "$sampler" 2>/dev/null
  python3 -c "import gansearch; df = gansearch.trials_dataframe('/tmp/$name/study.yaml');
cols = ['number', 'state', 'score', 'score_se', 'duration_s', 'setup_s', 'train_s', 'score_s', 'artifacts_s', 'step_mode',
        'train_precision', 'graph_fallback', 'worker', 'baseline'];
print(df[[c for c in cols if c in df]].to_string()); df.to_csv('$OUT/$name-trials.csv', index=False)" \
    >> "$OUT/$name.txt" 2>&1
}

# 1. CUDA paths (tests_gpu/): graph capture equals eager, fallback, workers and interleaved trials on one GPU,
#    per-trial random state, no memory growth; pytest must exit by itself
if has tests; then
  timeout 70 python3 -m pytest -q -p no:cacheprovider --timeout 60 --durations=10 -rA tests_gpu \
    > "$OUT/tests_gpu.txt" 2>&1
  echo "tests_gpu exit $?" >> "$OUT/tests_gpu.txt"
fi

# 2a. which layout (worker processes x trials interleaved per worker, each on its own CUDA stream) trains fastest
if has layouts; then
  timeout 75 "${GS[@]}" bench --layouts --device cuda --resolution 32 --width 32 --batch-size 64 --steps 300 \
    -o "$OUT/layouts.json" > "$OUT/layouts.txt" 2>&1
fi

# 2b. trainer speed: the classic loop against gansearch (workers: auto, the layout above), ratios measured in one run
if has bench; then
  timeout 45 "${GS[@]}" bench --device cuda --resolution 32 --width 32 --batch-size 64 --steps 300 \
    -o "$OUT/bench32.json" > "$OUT/bench32.txt" 2>&1
  timeout 40 "${GS[@]}" bench --device cuda --resolution 64 --width 64 --batch-size 128 --steps 200 \
    -o "$OUT/bench64.json" > "$OUT/bench64.txt" 2>&1
fi

# 3. the quickstart on the GPU (devices: auto picks it), unchanged: wall time split by --timings, trials' splits
if has quickstart; then
  study quickstart studies/quickstart.yaml 40
fi

# 3b. precision: the same quickstart with bf16 autocast (train.precision), for speed and best/baseline
if has precision; then
  study quickstart-bf16 studies/quickstart.yaml 35 's/^  batch_size: 64$/  batch_size: 64\n  precision: bf16/'
fi

# 3c. a translate study: where a colorize_shapes trial's time goes (target: 3 s per trial)
if has colorize; then
  study colorize studies/colorize_shapes.yaml 40
fi

# 4. search quality (issue 6; only when named): best of 30 trials vs the DCGAN baseline, TPE vs random, pruning's
#    saving, shapes 32x32, 3 seeds: 9 studies at once, one worker each (one H200, 16 host cores: about 5 minutes)
if has search; then
  timeout 400 "${GS[@]}" bench-search --suites shapes32 --device cuda --trials 30 --seeds 3 \
    --variants tpe,random,tpe+median --jobs 9 --timeout 370 -o /tmp/bench-search > "$OUT/bench-search.txt" 2>&1
  cp /tmp/bench-search/bench-search.json "$OUT/" 2>/dev/null
fi
# 5. does the proxy predict? (issue 18; only when named): search score against confirmed score, shapes 32x32
if has proxy; then
  timeout 560 "${GS[@]}" bench-confirm --suites shapes32 --device cuda --trials 30 --seeds 3 --jobs 3 --timeout 270 \
    -o /tmp/bench-confirm > "$OUT/bench-confirm.txt" 2>&1
  cp /tmp/bench-confirm/bench-confirm.json "$OUT/" 2>/dev/null
fi
python3 scripts/gpu-summary.py "$OUT"
tail -n 4 "$OUT"/*.txt
