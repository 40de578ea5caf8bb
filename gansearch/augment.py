"""What an augmentation plugin registers, and how a study's ``train.augment`` becomes one function.

An augmentation maps a batch (B, C, H, W) in [-1, 1] to a batch of the same shape, differentiably (the
generator's gradient flows through it) and without reading anything back to the host, so the training
step stays capturable as a CUDA graph. The trainer applies the same policy to real and fake inputs of
the discriminator in both its step and the generator's (DiffAugment, Zhao et al. 2020); in a translate
study the condition and the image are augmented together, as one tensor.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .block import NAME_RE


@dataclass(frozen=True)
class Augmentation:
    """``apply(x)`` returns an augmented copy of the batch ``x`` (a different random draw per image)."""

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


def make_policy(policy: str, registry) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """One function applying each named augmentation in turn, or None for ``none``."""
    steps = [registry.augmentation(name).apply for name in policy_names(policy)]
    if not steps:
        return None

    def apply(x):
        for step in steps:
            x = step(x)
        return x

    return apply
