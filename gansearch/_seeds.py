"""Seeds: mixed from integers, and a seeded CPU generator for building weights."""

import contextlib

import numpy as np
import torch


def derive_seed(*parts: int) -> int:
    """A 32-bit seed mixed from non-negative integers."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


@contextlib.contextmanager
def seeded_cpu(seed: int):
    """Draws from the default CPU generator seeded with ``seed``, its state restored afterwards (building a
    pair's weights: the same seed gives the same weights, whoever else draws random numbers)."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield
