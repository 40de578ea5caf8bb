"""What a generator costs: multiply-accumulates per image (PyTorch's flop counter) and inference latency.

MACs are counted once per trial on the CPU with a batch of one (FLOPs / 2: the counter counts a
multiply-add as two); the latency is the median of timed batches of ``LATENCY_BATCH`` images on the
trial's own device, in eval mode, after warm-up (synchronised on CUDA).
"""

import statistics
import time

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from gansearch.nets._spec import ArchSpec

LATENCY_BATCH = 64  # images per timed batch (the dataframe's latency_batch column)
LATENCY_REPEATS = 7


def generator_input(arch: ArchSpec, n: int, device="cpu") -> torch.Tensor:
    """What the generator takes: noise (n, latent) or, translating, conditions (n, Cc, R, R)."""
    if arch.task == "translate":
        return torch.zeros(n, arch.cond_channels, arch.resolution, arch.resolution, device=device)
    return torch.zeros(n, arch.latent_dim, device=device)


def discriminator_input(arch: ArchSpec, n: int, device="cpu") -> torch.Tensor:
    channels = arch.channels + (arch.cond_channels if arch.discriminator.conditional else 0)
    return torch.zeros(n, channels, arch.resolution, arch.resolution, device=device)


@torch.no_grad()
def macs(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of ``module`` on ``x`` (a batch of one: per image)."""
    was_training = module.training
    module.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            module(x)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops()) // 2


@torch.no_grad()
def latency_ms(generator: nn.Module, arch: ArchSpec, device: torch.device) -> float:
    """Median milliseconds per batch of ``LATENCY_BATCH`` generated images on ``device``."""
    was_training = generator.training
    generator.eval()
    x = generator_input(arch, LATENCY_BATCH, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    try:
        for i in range(LATENCY_REPEATS + 2):  # two warm-up batches
            sync()
            started = time.perf_counter()
            generator(x)
            sync()
            if i >= 2:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        generator.train(was_training)
    return statistics.median(times)
