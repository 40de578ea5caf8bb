"""The GPU suite (tests_gpu/) cannot rot between GPU runs: the CPU suite runs it on the CPU (issue 15)."""

import ast
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs tests_gpu/ in a subprocess

ROOT = Path(__file__).parents[1]
GPU_TESTS = ROOT / "tests_gpu"


def gpu_test_names() -> set[str]:
    names = set()
    for path in GPU_TESTS.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        names |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return names


def test_the_gpu_suite_runs_on_the_cpu_up_to_what_needs_cuda_and_exits_by_itself(tmp_path):
    report = tmp_path / "report.xml"
    env = {**os.environ, "GANSEARCH_GPU_TESTS_DEVICE": "cpu", "GANSEARCH_DISABLE_PLUGIN_AUTOLOAD": "1"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests_gpu", "-p", "no:cacheprovider", "-q", "-rs",
                           f"--junitxml={report}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    cases = {case.get("name"): case for case in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == gpu_test_names(), "every test module under tests_gpu/ is collected"
    ran, stopped = [], []
    for name, case in cases.items():
        skipped = case.find("skipped")
        assert case.find("failure") is None and case.find("error") is None, name
        if skipped is None:
            ran.append(name)
        else:  # only at needs_cuda, after building what the test uses
            assert skipped.get("message", "").startswith("needs CUDA: "), (name, skipped.get("message"))
            stopped.append(name)
    assert {"test_interleaved_graphed_trials_equal_the_same_trials_one_at_a_time",
            "test_the_bench_trains_several_trials_interleaved_in_one_process", "test_several_workers_share_one_device",
            "test_interleaved_trials_train_on_their_own_lanes_in_each_worker", "test_a_packed_study_repeats_from_its_seed",
            "test_bench_layouts_keeps_the_fastest_for_workers_auto"} <= set(ran)
    assert took < 400  # it ended by itself (subprocess.run would have raised at the limit)
