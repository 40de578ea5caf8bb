"""Spectral fidelity: how generated images spread their power over spatial frequencies.

Upsampling layers, transposed convolutions above all, leave periodic patterns (checkerboard artifacts) at
the frequencies their strides produce; they show as peaks in the power spectrum (Odena et al. 2016,
"Deconvolution and checkerboard artifacts"; Durall et al. 2020, "Watch your up-convolution"). Two metrics,
registered through ``register_metrics`` like the other built-ins, lower is better:

- ``spectrum``: the RMS difference (natural-log units) between the azimuthally averaged log power spectra
  of the generated and the real images, over every radius but 0 (each image's mean is removed first);
- ``checkerboard``: the excess log power, relative to real data, at the frequencies an upsampling layer
  produces, above the excess at their neighbouring frequencies (so blur and noise, which move whole
  bands, move it little); the worst upsampling layer's, and 0 when there is no excess.

A layer that enlarges a map of side ``r`` leaves a pattern whose period, in the final image, is
``R / r`` pixels: power at the multiples of ``r`` in both directions of the R x R spectrum. The scorer
says which layers a generator has (``Features.source["upsampling"]``); images without a generator are
read as coming from a stride-2 layer into the final size, the common last layer.
"""

from functools import lru_cache

import torch
import torch.nn as nn

from gansearch.plugins._hookspecs import hookimpl
from gansearch.plugins._metric import Extractor, Features, Metric

EPS = 1e-10  # power floor before taking logs (a constant image has none)


def power_spectrum(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H, W // 2 + 1): each image's power per frequency, its mean removed, averaged over
    channels (orthonormal FFT: the powers sum to the image's variance times its pixels)."""
    x = x.float()
    x = x - x.mean((-2, -1), keepdim=True)
    return torch.fft.rfft2(x, norm="ortho").abs().square().mean(1)


@lru_cache(maxsize=32)
def _radii(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Integer radius of each frequency of an (h, w // 2 + 1) half-spectrum, each one's weight in the full
    spectrum (the columns strictly inside the half count twice), and the number of radii."""
    ky = torch.fft.fftfreq(h, 1 / h).view(-1, 1)
    kx = torch.arange(w // 2 + 1, dtype=torch.float32).view(1, -1)
    radius = torch.sqrt(ky**2 + kx**2).round().long()
    weight = torch.ones(h, w // 2 + 1)
    weight[:, 1:(w + 1) // 2] = 2.0
    return radius.flatten(), weight.flatten(), int(radius.max()) + 1


class RadialSpectrum(nn.Module):
    """(B, C, H, W) in [-1, 1] -> (B, radii - 1): the azimuthally averaged power per integer radius 1.. (the
    corner included, so a diagonal checkerboard shows)."""

    def forward(self, x):
        power = power_spectrum(x).flatten(1)  # (B, H * (W // 2 + 1))
        radius, weight, n = _radii(x.shape[-2], x.shape[-1])
        radius, weight = radius.to(power.device), weight.to(power.device)
        total = torch.zeros(power.shape[0], n, device=power.device).index_add_(1, radius, power * weight)
        count = torch.zeros(n, device=power.device).index_add_(0, radius, weight)
        return (total / count)[:, 1:]


class PowerSpectrum(nn.Module):
    """(B, C, H, W) in [-1, 1] -> (B, H * (W // 2 + 1)): each image's 2-D power spectrum, flattened."""

    def forward(self, x):
        return power_spectrum(x).flatten(1)


def _side(features: int) -> int:
    """The image side R whose half-spectrum has ``features`` = R * (R // 2 + 1) frequencies."""
    side = int((2 * features) ** 0.5)
    for r in range(max(1, side - 2), side + 3):
        if r * (r // 2 + 1) == features:
            return r
    raise ValueError(f"{features} features are not a square image's half-spectrum")


@lru_cache(maxsize=64)
def peaks_and_neighbours(side: int, period: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The frequencies a pattern of ``side / period`` repeats produces in a ``side`` x ``side`` half-spectrum
    (the multiples of ``period`` in both directions, the mean excluded), as flat indices (P,), and each one's
    neighbours that are neither such a frequency nor the mean: flat indices (P, 8) and a mask of which are
    real (P, 8). Neighbours beyond the half are folded back (the spectrum of a real image is symmetric)."""
    half = side // 2 + 1
    on_lattice = lambda ky, kx: ky % period == 0 and kx % period == 0  # noqa: E731 - in signed or folded form
    peaks, neighbours = [], []
    for ky in range(side):
        for kx in range(0, half, period):
            if ky % period or (ky == 0 and kx == 0):
                continue
            around = []
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    y, x = (ky + dy) % side, kx + dx
                    if x < 0 or x >= half:  # fold: (y, x) is (-y, -x)
                        y, x = (-y) % side, (-x) % side
                    if (dy or dx) and not on_lattice(y, x) and (y, x) != (0, 0) and x < half:
                        around.append(y * half + x)
            if around:
                peaks.append(ky * half + kx)
                neighbours.append(around + [0] * (8 - len(around)))
    index = torch.tensor(neighbours, dtype=torch.long).view(-1, 8)
    return torch.tensor(peaks, dtype=torch.long), index, index != 0  # 0, the mean, pads: never a neighbour


def _log_mean_power(features: Features) -> torch.Tensor:
    return torch.log(features.values.mean(0) + EPS)


def spectrum(real: Features, fake: Features) -> float:
    """RMS difference of the azimuthally averaged log power spectra (natural log)."""
    log_real = real.memo("spectrum", lambda: _log_mean_power(real))
    return float((_log_mean_power(fake) - log_real).square().mean().sqrt())


def checkerboard(real: Features, fake: Features) -> float:
    """The worst upsampling layer's excess log power at its frequencies over their neighbours', relative to
    real data (0: none)."""
    log_real = real.memo("checkerboard", lambda: _log_mean_power(real))
    excess = _log_mean_power(fake) - log_real  # (H * (W // 2 + 1),)
    side = _side(excess.numel())
    layers = fake.source.get("upsampling") or ((side // 2, 2),)
    worst = 0.0
    for size, _stride in layers:
        peaks, index, mask = (t.to(excess.device) for t in peaks_and_neighbours(side, int(size)))
        if len(peaks) == 0:
            continue
        around = (excess[index] * mask).sum(1) / mask.sum(1)
        worst = max(worst, float((excess[peaks] - around).mean()))
    return worst


@hookimpl
def register_metrics(register):
    register(Extractor("spectrum", lambda request: RadialSpectrum(),
                       description="azimuthally averaged power spectrum (per integer radius)"))
    register(Extractor("power", lambda request: PowerSpectrum(), description="2-D power spectrum"))
    register(Metric("spectrum", spectrum, extractor="spectrum",
                    description="distance between log power spectra (RMS over radii)"))
    register(Metric("checkerboard", checkerboard, extractor="power",
                    description="excess power at the upsampling layers' frequencies"))

