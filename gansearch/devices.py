"""Where trials run: devices, and how many worker processes each gets."""

import os
from dataclasses import dataclass

import torch

WORKER_GPU_BYTES = 3 << 30  # a CUDA context plus a small GAN trial, generously
MAX_WORKERS_PER_GPU = 16


@dataclass(frozen=True)
class WorkerSlot:
    device: str  # "cpu" or "cuda:N"
    threads: int  # torch intra-op threads for this worker


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


def plan_workers(devices: list[str], workers) -> list[WorkerSlot]:
    """Worker slots for ``workers`` (``auto`` or N per device).

    ``auto`` on CPU: one single-threaded worker per core (two one-thread processes train ~1.5x the
    images of one two-thread process on small GANs). On CUDA: as many as free device memory and the
    host cores allow, since small GANs are launch-bound and several processes fill a GPU.
    """
    cores = host_cores()
    slots = []
    cpu_devices = [d for d in devices if d == "cpu"]
    gpu_devices = [d for d in devices if d != "cpu"]
    for device in gpu_devices:
        if workers == "auto":
            free, _total = torch.cuda.mem_get_info(torch.device(device))
            n = max(1, min(free // WORKER_GPU_BYTES, max(cores // len(gpu_devices), 1), MAX_WORKERS_PER_GPU))
        else:
            n = workers
        slots += [WorkerSlot(device, 1)] * n
    for device in cpu_devices:
        n = max(cores - len(gpu_devices), 1) if workers == "auto" else workers
        slots += [WorkerSlot(device, max(cores // n, 1))] * n
    return slots
