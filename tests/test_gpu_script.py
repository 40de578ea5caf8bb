"""scripts/gpu-checks.sh must be ready to run the moment a GPU is at hand: its summary is tested here."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).parents[1] / "scripts"


def test_the_gpu_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SCRIPTS / "gpu-checks.sh")]).returncode == 0


def test_the_summary_lists_every_target_with_what_was_measured(tmp_path):
    bench32 = {"ratio_single": 6.5, "ratio_study": 12.0, "gansearch": {"study_setup_share": 0.04},
               "date": "2026-11-27", "device": "NVIDIA H200", "torch": "2.11.0+cu130"}
    (tmp_path / "bench32.json").write_text(json.dumps(bench32))
    (tmp_path / "quickstart.txt").write_text("...\nquickstart exit 0 wall_s 14.2\n   number state\n")
    (tmp_path / "tests_gpu.txt").write_text("5 passed\ntests_gpu exit 0\n")  # bench64 never ran
    subprocess.run([sys.executable, str(SCRIPTS / "gpu-summary.py"), str(tmp_path)], check=True,
                   capture_output=True)
    result = json.loads((tmp_path / "gpu-summary.json").read_text())
    by = {r["target"].split(",")[0]: r for r in result["targets"]}
    assert by["32x32 one trial"]["pass"] and not by["32x32 whole study"]["pass"]  # 12 < 15
    assert by["32x32 setup share of a 300-step trial"]["measured"] == 0.04
    assert by["64x64 one trial"]["measured"] is None and not by["64x64 one trial"]["pass"]
    assert by["gansearch run studies/quickstart.yaml"]["measured"] == 14.2
    assert by["tests_gpu/ (graphs equal eager"]["pass"]
    assert result["card"] == "NVIDIA H200" and not result["all_pass"]
