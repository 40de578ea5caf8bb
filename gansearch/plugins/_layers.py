"""Small helpers block authors reuse: normalisation and activation by name, exact padding."""

import torch.nn as nn

from gansearch.config._load import ACTIVATIONS, NORMS  # the names a study file may use


def make_norm(name: str, channels: int) -> nn.Module:
    """A normalisation layer over ``channels`` feature maps, by name (one of ``NORMS``)."""
    if name == "none":
        return nn.Identity()
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if name == "layer":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"unknown norm {name!r}; allowed: {', '.join(NORMS)}")


def make_activation(name: str) -> nn.Module:
    """An activation by name (one of ``ACTIVATIONS``); ``lrelu`` has slope 0.2 as in DCGAN."""
    if name == "relu":
        return nn.ReLU()
    if name == "lrelu":
        return nn.LeakyReLU(0.2)
    if name == "tanh":
        return nn.Tanh()
    if name == "silu":
        return nn.SiLU()
    if name == "gelu":
        return nn.GELU()
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")


def exact_conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, **kwargs) -> nn.Module:
    """A Conv2d that maps H to exactly H / stride for any kernel, odd or even.

    Total padding is ``max(kernel - stride, 0)``: split evenly inside the conv when it can be,
    otherwise put in front as an asymmetric ``nn.ZeroPad2d``. ``kwargs`` go to ``nn.Conv2d``
    (``bias``, ``groups``, ...).
    """
    total = max(kernel - stride, 0)
    if total % 2 == 0:
        return nn.Conv2d(in_channels, out_channels, kernel, stride, padding=total // 2, **kwargs)
    left = total // 2
    return nn.Sequential(nn.ZeroPad2d((left, total - left, left, total - left)),
                         nn.Conv2d(in_channels, out_channels, kernel, stride, **kwargs))
