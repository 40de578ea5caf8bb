"""scripts/gpu-checks.sh must be ready to run the moment a GPU is at hand: its study steps and its summary
run here, on the CPU, with a stand-in for nvidia-smi and tiny stand-ins for the study files."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import tiny_study_text

ROOT = Path(__file__).parents[1]
SCRIPTS = ROOT / "scripts"

FAKE_NVIDIA_SMI = """#!/usr/bin/env bash
if [ "$#" -eq 0 ]; then echo "| 0  NVIDIA H100 80GB HBM3   On |"; exit 0; fi
while true; do echo "$(date '+%Y/%m/%d %H:%M:%S.%3N'), 40"; sleep 0.1; done
"""


def test_the_gpu_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SCRIPTS / "gpu-checks.sh")]).returncode == 0


@pytest.mark.slow
def test_the_study_steps_measure_wall_time_splits_precision_and_gpu_use(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(SCRIPTS, root / "scripts")
    (root / "studies").mkdir()
    (root / "studies" / "quickstart.yaml").write_text(  # the real file's "  batch_size: 64" line: precision edits it
        tiny_study_text(n_trials=3).replace("train: {steps: 20, eval_every: 10, batch_size: 32, lr_g: [2.0e-4, 5.0e-4]}",
                                            "train:\n  steps: 20\n  eval_every: 10\n  batch_size: 64"))
    (root / "studies" / "colorize_shapes.yaml").write_text(
        tiny_study_text(n_trials=2).replace("generator: {blocks:", "task: translate\ntranslate: {condition: "
                                            "grayscale}\ngenerator: {blocks:").replace("metrics: [fd]", "objective: l1")
        .replace("digits", "shapes"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755 | stat.S_IEXEC)
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "scripts/gpu-checks.sh", "quickstart", "precision", "colorize"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "gpu-summary.json").read_text())
    by = {r["target"]: r for r in result["targets"]}
    assert result["card"] == "NVIDIA H100 80GB HBM3"
    wall = by["gansearch run studies/quickstart.yaml, wall seconds"]
    assert wall["measured"] > 0 and wall["pass"] == (wall["measured"] <= 15)
    split = by["quickstart: wall time split (information)"]["measured"]
    assert {"prepare: study file, plugins, data", "trials", "summary: the trial table"} <= set(split["phases"])
    assert split["trials (summed over trials)"]["train_s"] > 0
    assert by["quickstart: a complete trial's score_s, the largest (512 samples)"]["measured"] > 0
    assert 0 < by["quickstart: score_s / train_s over its trials"]["measured"]
    assert by["quickstart: GPU busy share while trials ran, % (information)"]["measured"] == 40.0
    modes = by["quickstart in bf16: step modes, precision (information)"]["measured"]
    assert modes["precision"] == ["bf16"]
    assert by["colorize_shapes: seconds per trial (trials phase / finished trials)"]["measured"] > 0
    tests = by["tests_gpu/ (graphs equal eager, fallback, workers, interleaved trials, memory)"]
    assert tests["measured"] is None and not tests["pass"] and not result["all_pass"]  # a step that did not run


def test_the_summary_lists_every_bench_target_with_what_was_measured(tmp_path):
    bench32 = {"ratio_single": 6.5, "ratio_study": 12.0, "gansearch": {"study_setup_share": 0.04},
               "date": "2026-11-27", "device": "NVIDIA H200", "torch": "2.11.0+cu130"}
    (tmp_path / "bench32.json").write_text(json.dumps(bench32))
    (tmp_path / "tests_gpu.txt").write_text("5 passed\ntests_gpu exit 0\n")  # bench64 never ran
    subprocess.run([sys.executable, str(SCRIPTS / "gpu-summary.py"), str(tmp_path)], check=True,
                   capture_output=True)
    result = json.loads((tmp_path / "gpu-summary.json").read_text())
    by = {r["target"].split(",")[0]: r for r in result["targets"]}
    assert by["32x32 one trial"]["pass"] and not by["32x32 whole study"]["pass"]  # 12 < 15
    assert by["32x32 setup share of a 300-step trial"]["measured"] == 0.04
    assert by["64x64 one trial"]["measured"] is None and not by["64x64 one trial"]["pass"]
    assert by["tests_gpu/ (graphs equal eager"]["pass"]
    assert result["card"] == "NVIDIA H200" and not result["all_pass"]


def test_the_summary_reads_the_proxy_benchmark_when_it_ran(tmp_path):
    from gansearch.bench._confirm_bench import summarise

    rows = [{"suite": "shapes32", "seed": s, "spearman": v, "kendall": v - 0.1, "best_holds": h}
            for s, v, h in [(0, 0.9, "same"), (1, 0.6, "no"), (2, 0.75, "within noise")]]
    (tmp_path / "bench-confirm.json").write_text(json.dumps({"rows": rows, "summary": summarise(rows)}))
    subprocess.run([sys.executable, str(SCRIPTS / "gpu-summary.py"), str(tmp_path)], check=True, capture_output=True)
    by = {r["target"]: r for r in json.loads((tmp_path / "gpu-summary.json").read_text())["targets"]}
    spearman = by["shapes 32x32 proxy: mean Spearman, search score against confirmed score"]
    assert spearman["measured"] == 0.75 and spearman["pass"]
    assert by["shapes 32x32 proxy: studies whose best held within noise (information)"]["measured"] == "2 of 3"
    assert "bench-confirm --suites shapes32 --device cuda" in (SCRIPTS / "gpu-checks.sh").read_text()
