"""GPU checks, run by scripts/gpu-checks.sh on a CUDA machine.

With ``GANSEARCH_GPU_TESTS_DEVICE=cpu`` they run on the CPU instead, as the CPU suite does
(tests/test_gpu_suite.py): every module is imported, every fixture and study file built, every test whose
logic does not need CUDA runs, and the rest stop at ``needs_cuda`` (after building what they use) with a
skip. So the GPU suite cannot rot unseen between GPU runs.
"""

import importlib.util
import multiprocessing
import os
import threading
from pathlib import Path

import pytest
import torch

_spec = importlib.util.spec_from_file_location("gansearch_cpu_conftest", Path(__file__).parents[1] / "tests" / "conftest.py")
_cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cpu)
tiny_study_text = _cpu.tiny_study_text  # the CPU suite's tiny study, pointed at the device below
_no_installed_plugins = _cpu._no_installed_plugins
_extractor_cache = _cpu._extractor_cache

DEVICE = os.environ.get("GANSEARCH_GPU_TESTS_DEVICE", "cuda:0")


def pytest_collection_modifyitems(items):
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        raise pytest.UsageError("tests_gpu needs a CUDA device (or GANSEARCH_GPU_TESTS_DEVICE=cpu to run what "
                                "does not need one); the CPU suite is `python -m pytest`")


def pytest_sessionfinish(session, exitstatus):
    """pytest must exit when its tests end: a worker process or a thread left running is a failure, named
    here, and is stopped, rather than a hang until the GPU script's time limit."""
    children = multiprocessing.active_children()
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if children or threads:
        print(f"\ntests_gpu left running: processes {[p.name for p in children]}, threads {threads}")
        for p in children:
            p.kill()
        session.exitstatus = 1


@pytest.fixture
def device() -> torch.device:
    return torch.device(DEVICE)


def needs_cuda(device: torch.device, why: str) -> None:
    """Stop here (a skip) on the CPU: what follows needs CUDA."""
    if device.type != "cuda":
        pytest.skip(f"needs CUDA: {why}")


@pytest.fixture
def cuda_study(tmp_path, device):
    """``cuda_study(n_trials, plugins, g_blocks, workers, extra)`` -> a tiny study file on the test's device,
    validated as written."""
    from gansearch.config import load_config

    def write(n_trials=3, plugins="[]", g_blocks="deconv, upsample_conv", workers=1, extra=""):
        path = tmp_path / "study.yaml"
        path.write_text(tiny_study_text(n_trials=n_trials, plugins=plugins, g_blocks=g_blocks, workers=workers)
                        + f"devices: [{device}]\n" + extra)
        load_config(path)
        return path

    return write
