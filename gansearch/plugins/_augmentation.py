"""What an augmentation plugin registers, and how a study's ``train.augment`` becomes one function.

An augmentation maps a batch (B, C, H, W) in [-1, 1] to a batch of the same shape, differentiably (the
generator's gradient flows through it) and without reading anything back to the host, so the training
step stays capturable as a CUDA graph. One that takes a ``generator`` keyword draws its random numbers
from it (the trial's own ``torch.Generator``); one that does not draws from the default generators,
which the trainer points at the trial's own state meanwhile (``gansearch.randomness``). The trainer applies the same policy to real and fake inputs of
the discriminator in both its step and the generator's (DiffAugment, Zhao et al. 2020); in a translate
study the condition and the image are augmented together, as one tensor.
"""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from gansearch.plugins._block import NAME_RE


@dataclass(frozen=True)
class Augmentation:
    """``apply(x)`` (or ``apply(x, generator=...)``) returns an augmented copy of the batch ``x`` (a
    different random draw per image)."""

    name: str
    apply: Callable[[torch.Tensor], torch.Tensor]
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise ValueError(f"augmentation name {self.name!r} must match {NAME_RE.pattern}")
        if self.name == "none":
            raise ValueError("'none' means no augmentation; choose another name")
        if not callable(self.apply):
            raise ValueError(f"augmentation {self.name!r}: apply must be callable")


def policy_names(policy: str) -> list[str]:
    """``"color,translation"`` -> ["color", "translation"]; ``"none"`` -> []."""
    return [] if policy == "none" else [p for p in re.split(r"\s*,\s*", policy.strip()) if p]


def accepts_generator(fn: Callable) -> bool:
    """Does ``fn`` take a ``generator`` keyword argument?"""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return any(p.name == "generator" or p.kind is p.VAR_KEYWORD for p in parameters)


def make_policy(policy: str, registry) -> Callable[..., torch.Tensor] | None:
    """One function ``apply(x, generator=None)`` applying each named augmentation in turn (passing the
    generator to those that take one), or None for ``none``."""
    steps = [(a.apply, accepts_generator(a.apply)) for a in map(registry.augmentation, policy_names(policy))]
    if not steps:
        return None

    def apply(x, generator=None):
        for step, takes_generator in steps:
            x = step(x, generator=generator) if takes_generator else step(x)
        return x

    return apply
