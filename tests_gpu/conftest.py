"""GPU checks: run by scripts/gpu-checks.sh on a CUDA machine (not part of the CPU suite)."""

import importlib.util
from pathlib import Path

import pytest
import torch

_spec = importlib.util.spec_from_file_location("gansearch_cpu_conftest", Path(__file__).parents[1] / "tests" / "conftest.py")
_cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cpu)
TINY_STUDY = _cpu.TINY_STUDY  # the CPU suite's tiny study, pointed at the GPU below
_no_installed_plugins = _cpu._no_installed_plugins


def pytest_collection_modifyitems(items):
    if not torch.cuda.is_available():
        raise pytest.UsageError("tests_gpu needs a CUDA device; the CPU suite is `python -m pytest`")


@pytest.fixture
def cuda_study(tmp_path):
    def write(n_trials=3, plugins="[]", g_blocks="deconv, upsample_conv", workers=1, extra=""):
        path = tmp_path / "study.yaml"
        path.write_text(TINY_STUDY.format(n_trials=n_trials, plugins=plugins, g_blocks=g_blocks, workers=workers,
                                          metrics="[fd]", baseline="none")
                        + "devices: [cuda:0]\n" + extra)
        return path

    return write
