"""DiffAugment (Zhao et al. 2020): colour, translation and cutout, differentiable and capturable.

Every random draw is a device tensor (``torch.rand`` on the batch's device, from the trial's generator);
shapes never depend on values, so a step using them can be captured as a CUDA graph and replayed with
fresh draws.
"""

import torch
import torch.nn.functional as F

from gansearch.plugins._augmentation import Augmentation
from gansearch.plugins._hookspecs import hookimpl


def _uniform(x: torch.Tensor, low: float, high: float, generator=None) -> torch.Tensor:
    """(B, 1, 1, 1) uniform draws on x's device."""
    return low + (high - low) * torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator)


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    # (B, C, H, W) -> same: brightness, saturation, contrast (images in [-1, 1])
    x = x + _uniform(x, -0.5, 0.5, generator)  # brightness: +-0.25 in [0, 1] units
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * _uniform(x, 0.0, 2.0, generator) + mean  # saturation (no-op on one channel)
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(x, 0.5, 1.5, generator) + mean  # contrast


def translation(x: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    # (B, C, H, W) -> same: each image shifted by up to ratio * size, zero-filled
    b, _, h, w = x.shape
    sh, sw = max(int(h * ratio + 0.5), 1), max(int(w * ratio + 0.5), 1)
    ty = (torch.rand(b, 1, 1, device=x.device, generator=generator) * (2 * sh + 1)).long() - sh  # in [-sh, sh]
    tx = (torch.rand(b, 1, 1, device=x.device, generator=generator) * (2 * sw + 1)).long() - sw
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + ty + 1).clamp(0, h + 1)  # (B, H, 1) into the pad
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + tx + 1).clamp(0, w + 1)  # (B, 1, W)
    padded = F.pad(x, [1, 1, 1, 1])  # (B, C, H+2, W+2): the border is zero
    index = (rows * (w + 2) + cols).view(b, 1, h * w).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, index).view_as(x)


def cutout(x: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    # (B, C, H, W) -> same: a square of ratio * size zeroed at a random place in each image
    b, _, h, w = x.shape
    ch, cw = max(int(h * ratio + 0.5), 1), max(int(w * ratio + 0.5), 1)
    cy = (torch.rand(b, 1, 1, device=x.device, generator=generator) * (h + 1 - ch % 2)).long() - ch // 2  # top row
    cx = (torch.rand(b, 1, 1, device=x.device, generator=generator) * (w + 1 - cw % 2)).long() - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw)  # (B, H, W)
    return x * (~hole).unsqueeze(1).to(x.dtype)


@hookimpl
def register_augmentations(register):
    register(Augmentation("color", color, "DiffAugment colour: random brightness, saturation and contrast"))
    register(Augmentation("translation", translation, "DiffAugment translation: shift by up to 1/8 of the side"))
    register(Augmentation("cutout", cutout, "DiffAugment cutout: zero a random square of half the side"))
