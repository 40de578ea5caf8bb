"""What a block plugin registers: a named factory of ``nn.Module``s that scale H×W exactly."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch.nn as nn

from .layers import ACTIVATIONS, NORMS

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class BlockArgs:
    """Everything a block factory gets for one layer."""

    in_channels: int
    out_channels: int
    kernel: int  # any kernel size the study offers, odd or even
    stride: int  # 1 keeps H×W; s > 1 resamples by exactly s in the block's direction
    norm: str = "none"  # one of gansearch.layers.NORMS
    activation: str = "none"  # one of gansearch.layers.ACTIVATIONS
    options: Mapping[str, Any] = field(default_factory=dict)  # the block's own searched options


@dataclass(frozen=True)
class Block:
    """A layer block: ``build(args)`` returns a module mapping (B, C_in, H, W) to (B, C_out, H', W').

    ``scale="up"``: H' = H * stride (generator side). ``scale="down"``: H' = H / stride
    (discriminator side). At stride 1 every block keeps H×W and may sit in either network.
    ``options`` are extra per-layer choices the search explores, e.g. ``{"mode": ("nearest", "bilinear")}``.
    """

    name: str
    build: Callable[[BlockArgs], nn.Module]
    scale: Literal["up", "down"]
    options: Mapping[str, tuple] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise ValueError(f"block name {self.name!r} must match {NAME_RE.pattern}")
        if self.scale not in ("up", "down"):
            raise ValueError(f"block {self.name!r}: scale must be 'up' or 'down', not {self.scale!r}")
        if not callable(self.build):
            raise ValueError(f"block {self.name!r}: build must be callable")
        for key, choices in self.options.items():
            if not NAME_RE.match(str(key)):
                raise ValueError(f"block {self.name!r}: option name {key!r} must match {NAME_RE.pattern}")
            if not isinstance(choices, (tuple, list)) or not choices:
                raise ValueError(f"block {self.name!r}: option {key!r} needs a non-empty tuple of choices")
            if not all(isinstance(c, (str, int, float, bool)) for c in choices):
                raise ValueError(f"block {self.name!r}: option {key!r} choices must be str/int/float/bool")

    def out_size(self, size: int, stride: int) -> int:
        """The H (or W) this block produces from ``size`` at ``stride``."""
        if stride == 1:
            return size
        return size * stride if self.scale == "up" else size // stride

    def can_stride(self, network: str) -> bool:
        """Whether this block may resample (stride > 1) in ``network`` ('generator' or 'discriminator')."""
        return (self.scale == "up") == (network == "generator")


def check_block_args(args: BlockArgs) -> None:
    """Reject arguments no block should have to handle."""
    if args.norm not in NORMS:
        raise ValueError(f"norm {args.norm!r} not one of {NORMS}")
    if args.activation not in ACTIVATIONS:
        raise ValueError(f"activation {args.activation!r} not one of {ACTIVATIONS}")
