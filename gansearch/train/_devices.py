"""Where trials run: devices, and how many worker processes each gets."""

import datetime
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

MAX_WORKERS_PER_GPU = 16
GPU_LANES = 4  # trials one CUDA worker interleaves when no layout was measured on this kind of GPU


@dataclass(frozen=True)
class WorkerSlot:
    device: str  # "cpu" or "cuda:N"
    threads: int  # torch intra-op threads for this worker
    trials: int = 1  # trials it trains at once, interleaved, each in a lane with its own CUDA stream (interleave.py)
    measured: str | None = None  # where its layout came from, when a measurement chose it


def host_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_devices(devices) -> list[str]:
    """``auto`` -> every CUDA device, else the CPU; ``cuda`` -> ``cuda:0``; a list is kept in order."""
    if devices == "auto":
        n = cuda_count()
        return [f"cuda:{i}" for i in range(n)] if n else ["cpu"]
    names = [devices] if isinstance(devices, str) else list(devices)
    return ["cuda:0" if name == "cuda" else name for name in names]


def max_workers(devices: list[str]) -> int:
    """The most worker processes per device this machine can run: one per core on the CPU, at most
    ``MAX_WORKERS_PER_GPU`` on a GPU."""
    return MAX_WORKERS_PER_GPU if any(d != "cpu" for d in devices) else host_cores()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown"


def layout_file(device: str) -> Path:
    """Where ``gansearch bench --layouts`` keeps the fastest layout it measured for this kind of GPU."""
    from gansearch._cache import extractor_cache_dir

    name = torch.cuda.get_device_name(torch.device(device)) if device != "cpu" else "cpu-" + cpu_model()
    return extractor_cache_dir() / "layouts" / (re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") + ".json")


def save_layout(device: str, measured: list[dict], config: dict) -> Path:
    """Keep the fastest of ``measured`` ({"workers", "trials_per_worker", "img_s"}) for ``device``'s kind."""
    best = max(measured, key=lambda m: m["img_s"])
    path = layout_file(device)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"workers": best["workers"], "trials_per_worker": best["trials_per_worker"],
              "device": path.stem, "torch": torch.__version__, "date": datetime.date.today().isoformat(),
              "host_cores": host_cores(), "measured": measured, "config": config}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)
    return path


def measured_layout(device: str) -> dict | None:
    """The layout measured on this kind of device (on a machine with as many host cores), or None."""
    try:
        record = json.loads(layout_file(device).read_text())
        workers, trials = int(record["workers"]), int(record["trials_per_worker"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record.get("host_cores") != host_cores() or workers < 1 or trials < 1:
        return None
    return record


def plan_workers(devices: list[str], workers, trials_per_worker="auto") -> list[WorkerSlot]:
    """Worker slots for ``workers`` (``auto`` or N per device), each training ``trials_per_worker``
    trials at once (``auto`` or N), interleaved by its one host thread (``gansearch.interleave``).

    ``auto`` picks the layout ``gansearch bench --layouts`` measured fastest on this kind of device
    (with as many host cores), when there is one. Without one: on CPU one single-threaded worker per
    core, one trial each (two one-thread processes train ~1.5x the images of one two-thread process on
    small GANs; interleaving on a CPU only takes turns); on CUDA one worker process interleaving
    ``GPU_LANES`` trials on their own streams (every extra process pays for its own start, CUDA context
    and first capture, which a short study never earns back). Automatic layouts never start more worker
    processes than there are host cores; a CPU worker's torch threads share its cores among its trials.
    """
    cores = host_cores()
    slots = []
    cpu_devices = [d for d in devices if d == "cpu"]
    gpu_devices = [d for d in devices if d != "cpu"]
    share = max(cores // max(len(gpu_devices), 1), 1)  # host cores per GPU
    for device in gpu_devices:
        layout = measured_layout(device) if "auto" in (workers, trials_per_worker) else None
        default_trials = layout["trials_per_worker"] if layout else GPU_LANES
        trials = trials_per_worker if trials_per_worker != "auto" else default_trials
        if workers != "auto":
            n = workers
        elif layout:
            n = max(1, min(layout["workers"], share))
        else:
            n = 1
        note = f"measured {layout['date']} ({layout_file(device)})" if layout else None
        slots += [WorkerSlot(device, 1, trials, note)] * n
    for device in cpu_devices:
        free_cores = max(cores - len(gpu_devices), 1)
        layout = measured_layout(device) if "auto" in (workers, trials_per_worker) else None
        trials = trials_per_worker if trials_per_worker != "auto" else (layout["trials_per_worker"] if layout else 1)
        if workers != "auto":
            n = workers
        else:
            n = max(1, min(layout["workers"], free_cores)) if layout else free_cores
        note = f"measured {layout['date']} ({layout_file(device)})" if layout else None
        slots += [WorkerSlot(device, max(cores // n, 1), trials, note)] * n
    return slots
