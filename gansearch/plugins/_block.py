"""What a block plugin registers: a named factory of ``nn.Module``s that scale H×W exactly.

A block declares how it resamples (``scale``): ``up`` (H·s), ``down`` (H/s), or ``same`` (never
resamples: residual or attention blocks), and may restrict the ``strides`` and ``kernels`` it supports.
Its factory gets ``BlockArgs``: sizes, stride, norm, activation, its searched options, and where the
layer sits (network, index, first, last).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch.nn as nn

from gansearch.plugins._layers import ACTIVATIONS, NORMS

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
    network: str = ""  # "generator", "translator" (image-to-image generator) or "discriminator"
    index: int = 0  # the layer's position in its network, from 0
    first: bool = False  # the network's first layer (it reads the input image / the stem)
    last: bool = False  # the network's last layer (a generator's makes the image: no norm, tanh)


SCALES = ("up", "down", "same")
RESAMPLES = {"generator": ("up",), "translator": ("up", "down"), "discriminator": ("down",)}


@dataclass(frozen=True)
class Block:
    """A layer block: ``build(args)`` returns a module mapping (B, C_in, H, W) to (B, C_out, H', W').

    ``scale="up"``: H' = H * stride (generators). ``scale="down"``: H' = H / stride (discriminators,
    a translator's encoder). ``scale="same"``: only ever built at stride 1 (residual, attention). At
    stride 1 every block keeps H×W and may sit in any network.
    ``strides`` / ``kernels``: the ones it supports (None: any); the search offers it nothing else.
    ``options`` are extra per-layer choices the search explores, e.g. ``{"mode": ("nearest", "bilinear")}``.
    """

    name: str
    build: Callable[[BlockArgs], nn.Module]
    scale: Literal["up", "down", "same"]
    options: Mapping[str, tuple] = field(default_factory=dict)
    description: str = ""
    strides: tuple[int, ...] | None = None
    kernels: tuple[int, ...] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise ValueError(f"block name {self.name!r} must match {NAME_RE.pattern}")
        if self.scale not in SCALES:
            raise ValueError(f"block {self.name!r}: scale must be 'up', 'down' or 'same' (a block that never "
                             f"resamples), not {self.scale!r}")
        for what in ("strides", "kernels"):
            values = getattr(self, what)
            if values is not None and (not isinstance(values, (tuple, list)) or not values or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values)):
                raise ValueError(f"block {self.name!r}: {what} must be None (any) or a non-empty tuple of "
                                 f"positive integers, not {values!r}")
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
        if stride == 1 or self.scale == "same":
            return size
        return size * stride if self.scale == "up" else size // stride

    def can_stride(self, network: str) -> bool:
        """Whether this block may resample (stride > 1) in ``network`` (generator, translator, discriminator)."""
        return self.scale in RESAMPLES.get(network, ())

    def supports(self, kernel: int | None = None, stride: int | None = None) -> bool:
        """Whether the block declares it can be built with this kernel and stride."""
        if stride is not None and stride > 1 and self.scale == "same":
            return False
        return ((kernel is None or self.kernels is None or kernel in self.kernels)
                and (stride is None or stride == 1 or self.strides is None or stride in self.strides))


def check_block_args(args: BlockArgs) -> None:
    """Reject arguments no block should have to handle."""
    if args.norm not in NORMS:
        raise ValueError(f"norm {args.norm!r} not one of {NORMS}")
    if args.activation not in ACTIVATIONS:
        raise ValueError(f"activation {args.activation!r} not one of {ACTIVATIONS}")
