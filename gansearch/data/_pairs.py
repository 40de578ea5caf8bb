"""Translate studies: (condition, target) pairs made from a study's images, and the held-out split.

A condition is made from each image by a named degradation, deterministically (seeded per image
index), once when the study is prepared: ``grayscale`` (colourisation), ``downsample`` (shrink by
``factor`` then enlarge back: super-resolution), ``blur`` (Gaussian, ``sigma`` px), ``noise``
(Gaussian, ``sigma``), ``mask`` (a square of ``hole`` × side set to 0: inpainting), ``edges`` (Sobel
magnitude of the luminance: edges -> image). ``paired``: the dataset itself returns pairs (the
``paired_folder`` dataset: two folders with matching file names, or side-by-side AB images).
"""

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gansearch.config._load import TranslateConfig

SOBEL = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])


@dataclass(frozen=True)
class Pairs:
    """Conditions and targets, both (N, C, R, R) in [-1, 1], split into train and held-out."""

    condition: torch.Tensor  # (N, Cc, R, R)
    target: torch.Tensor  # (N, C, R, R)
    held_out: torch.Tensor  # (M,) indices never trained on

    @property
    def train_index(self) -> torch.Tensor:
        keep = torch.ones(len(self.target), dtype=torch.bool)
        keep[self.held_out] = False
        return keep.nonzero().squeeze(1)

    def train_data(self) -> torch.Tensor:
        """(N - M, Cc + C, R, R): condition and target side by side in channels, as the trainer reads them."""
        i = self.train_index
        return torch.cat([self.condition[i], self.target[i]], 1)

    def held_out_pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.condition[self.held_out], self.target[self.held_out]


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), edges replicated."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def condition_channels(cfg: TranslateConfig, channels: int) -> int:
    return 1 if cfg.condition in ("grayscale", "edges") else channels


def make_condition(images: torch.Tensor, cfg: TranslateConfig, seed: int) -> torch.Tensor:
    """(N, C, R, R) in [-1, 1] -> conditions (N, Cc, R, R) in [-1, 1], the same for the same seed."""
    x = images.float()
    kind = cfg.condition
    if kind == "grayscale":
        if x.shape[1] == 1:
            return x.clone()
        return (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    if kind == "downsample":
        r = x.shape[-1]
        small = max(r // cfg.factor, 1)
        low = F.interpolate(x, size=(small, small), mode="bilinear", antialias=True, align_corners=False)
        return F.interpolate(low, size=(r, r), mode="bilinear", align_corners=False).clamp(-1, 1)
    if kind == "blur":
        return gaussian_blur(x, cfg.sigma)
    if kind == "noise":
        g = torch.Generator().manual_seed(seed)
        return (x + cfg.sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    if kind == "mask":
        g = torch.Generator().manual_seed(seed)
        n, _, h, w = x.shape
        side = max(int(round(cfg.hole * h)), 1)
        top = torch.randint(0, h - side + 1, (n, 1, 1), generator=g)
        left = torch.randint(0, w - side + 1, (n, 1, 1), generator=g)
        ys, xs = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
        hole = (ys >= top) & (ys < top + side) & (xs >= left) & (xs < left + side)
        return x.masked_fill(hole.unsqueeze(1), 0.0)
    if kind == "edges":
        gray = x.mean(1, keepdim=True)
        padded = F.pad(gray, (1, 1, 1, 1), mode="replicate")
        gx = F.conv2d(padded, SOBEL.view(1, 1, 3, 3))
        gy = F.conv2d(padded, SOBEL.t().contiguous().view(1, 1, 3, 3))
        magnitude = (gx.square() + gy.square()).sqrt()
        return (magnitude / magnitude.amax((1, 2, 3), keepdim=True).clamp(min=1e-6)) * 2 - 1
    raise ValueError(f"unknown condition {kind!r}")


def held_out_index(n: int, fraction: float, seed: int, labels: torch.Tensor | None = None) -> torch.Tensor:
    """A seeded ``fraction`` of 0..n-1 (at least one, and at least one left to train on). With ``labels``
    (a labelled dataset, a folder's subfolders), stratified: each class gives its share, rounded, and at
    least one of each class with two or more, so every kind of image is scored and shown."""
    m = min(max(1, round(n * fraction)), n - 1)
    g = torch.Generator().manual_seed(seed + 7919)
    if labels is None or len(labels) != n:
        return torch.randperm(n, generator=g)[:m].sort().values
    picked = []
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=g)]
        share = round(len(members) * fraction) if len(members) > 1 else 0
        picked.append(members[:min(max(share, 1 if len(members) > 1 else 0), len(members) - 1)])
    picked = torch.cat(picked)
    if len(picked) == 0 or len(picked) >= n:  # one image per class: a plain draw instead
        return torch.randperm(n, generator=g)[:m].sort().values
    return picked.sort().values


def preview_index(m: int, n: int, seed: int, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` positions among ``m`` held-out pairs to show in sample grids, drawn across the whole held-out set
    (seeded): with ``labels`` one class after another (the rarest classes get their turn too); without, one
    from each of ``n`` equal runs of the held-out set, which follows the dataset's order (a folder dataset's
    subfolders, say), so every part of the data shows."""
    n = min(n, m)
    g = torch.Generator().manual_seed(seed + 104729)
    if labels is not None and len(labels) == m:
        by_class = [(labels == c).nonzero().squeeze(1) for c in labels.unique().tolist()]
        by_class = [members[torch.randperm(len(members), generator=g)] for members in by_class]
        picked, turn = [], 0
        while len(picked) < n:
            members = by_class[turn % len(by_class)]
            if turn // len(by_class) < len(members):
                picked.append(int(members[turn // len(by_class)]))
            turn += 1
        return torch.tensor(sorted(picked))
    bounds = torch.linspace(0, m, n + 1).long()
    return torch.stack([lo + torch.randint(int(hi - lo), (), generator=g) for lo, hi in zip(bounds[:-1], bounds[1:])])


def make_pairs(images: torch.Tensor, cfg: TranslateConfig, seed: int,
               conditions: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> Pairs:
    """Pairs from a study's images (``conditions`` given: a paired dataset's own; ``labels``: the held-out
    pairs are drawn class by class)."""
    if conditions is None:
        conditions = make_condition(images, cfg, seed)
    return Pairs(conditions.float(), images.float(), held_out_index(len(images), cfg.held_out, seed, labels))


def condition_settings(cfg: TranslateConfig) -> dict:
    """What a condition depends on (``make_condition``'s settings), as plain values."""
    return {k: getattr(cfg, k) for k in ("condition", "factor", "sigma", "hole")}


def condition_source(condition, seed: int = 0) -> str:
    """``condition.py``: the study's condition recipe as plain torch code (the functions gansearch itself
    uses, with the study's settings)."""
    settings = condition_settings(condition)
    return f'''"""The condition recipe of the study this generator was exported from, in plain torch: make the
generator's inputs from your images exactly as the study made them for training and scoring.

    from condition import condition
    x = condition(images)  # images (N, C, R, R) in [-1, 1] -> conditions

Settings: {settings}.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

SETTINGS = SimpleNamespace(**{settings!r})
SEED = {seed}  # noise and mask conditions draw from a generator seeded with it

SOBEL = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])


{inspect.getsource(gaussian_blur)}

{inspect.getsource(make_condition)}

def condition(images: torch.Tensor) -> torch.Tensor:
    """(N, C, R, R) in [-1, 1] -> the generator's inputs (N, Cc, R, R) in [-1, 1]."""
    return make_condition(images, SETTINGS, SEED)
'''
