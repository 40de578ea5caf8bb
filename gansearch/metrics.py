"""Fréchet distance in the feature space of a fixed, seeded random conv net (no downloaded weights).

Random convolutional features are an accepted stand-in when Inception weights are out of reach;
scores are comparable only for the same ``feature_seed``, sample count and resolution.
"""

import contextlib
import hashlib
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import TrialDiverged

FEATURE_SIZES = (16, 32)  # images are resized into this range (16x16 digits stay 16x16: 4x cheaper than 32)
FEATURE_VERSION = 2  # bump when the features change: cached real statistics are keyed by it
FEATURE_DIM = 2 * (64 + 96)  # means and standard deviations of the last two stages' channels


class RandomFeatures(nn.Module):
    """Three random conv stages; features are the spatial means and standard deviations of the last two."""

    def __init__(self, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList([nn.Conv2d(3, 32, 3, 1, 1), nn.Conv2d(32, 64, 4, 2, 1),
                                    nn.Conv2d(64, 96, 4, 2, 1)])
        for conv in self.convs:
            fan_in = conv.weight[0].numel()
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                conv.bias.zero_()
        self.requires_grad_(False)
        self.dim = FEATURE_DIM

    @torch.no_grad()
    def forward(self, x):
        # (B, 1|3, H, W) in [-1, 1] -> (B, dim)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        size = min(max(x.shape[-1], FEATURE_SIZES[0]), FEATURE_SIZES[1])
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > size)
        feats = []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), 0.2)
            if i > 0:
                feats += [x.mean((2, 3)), x.std((2, 3))]
        return torch.cat(feats, 1)


def statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance, in float64."""
    f = features.double()
    mu = f.mean(0)
    centered = f - mu
    return mu, centered.T @ centered / (f.shape[0] - 1)


@contextlib.contextmanager
def single_threaded():
    """Small LAPACK calls run fastest on one thread; with busy cores, several threads can be 50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||² + tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½), via symmetric eigendecompositions (stays real)."""
    mu1, sigma1, mu2, sigma2 = (t.double().cpu() for t in (mu1, sigma1, mu2, sigma2))
    with single_threaded():
        vals, vecs = torch.linalg.eigh(sigma1)
        root1 = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T
        cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * cross
    return float(value.clamp(min=0))


class FrechetScorer:
    """Scores a generator against real data whose statistics are computed once (and cached on disk)."""

    def __init__(self, real: torch.Tensor, samples: int = 1024, seed: int = 0, feature_seed: int = 0,
                 device: str | torch.device = "cpu", cache_dir: Path | None = None, batch: int = 512):
        self.device = torch.device(device)
        self.samples = samples
        self.batch = batch
        self.features = RandomFeatures(feature_seed).to(self.device)
        self.seed = seed
        self.real_mu, self.real_sigma = self._real_stats(real, feature_seed, cache_dir)

    @classmethod
    def for_study(cls, real: torch.Tensor, config, device="cpu") -> "FrechetScorer":
        """The scorer a study's trials share: its sample count, seeds and statistics cache."""
        return cls(real, samples=config.score.samples, seed=config.seed, feature_seed=config.score.feature_seed,
                   device=device, cache_dir=config.output_dir / "cache")

    @classmethod
    def cache_real_stats(cls, real: torch.Tensor, config) -> None:
        """Compute the real statistics once, on the CPU, before any worker starts."""
        cls.for_study(real, config)

    def _real_stats(self, real, feature_seed, cache_dir):
        n = max(self.samples, 2048)  # all of a small dataset; a seeded random subset of a large one
        if len(real) > n:
            real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(feature_seed))[:n]]
        subset = real
        key = None
        if cache_dir is not None:
            digest = hashlib.sha1(subset.cpu().numpy().tobytes()).hexdigest()[:16]
            key = Path(cache_dir) / f"real_stats_v{FEATURE_VERSION}_{feature_seed}_{digest}.pt"
            if key.exists():
                cached = torch.load(key, map_location="cpu")
                return cached["mu"], cached["sigma"]
        mu, sigma = (t.cpu() for t in statistics(self._extract(subset)))
        if key is not None:
            key.parent.mkdir(parents=True, exist_ok=True)
            tmp = key.with_suffix(".tmp")
            torch.save({"mu": mu, "sigma": sigma}, tmp)
            tmp.replace(key)
        return mu, sigma

    def _extract(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.features(images[i:i + self.batch].to(self.device))
                          for i in range(0, len(images), self.batch)])

    @torch.no_grad()
    def score(self, generator: nn.Module) -> float:
        """Fréchet distance of ``samples`` generated images (fixed noise) to the real statistics."""
        was_training = generator.training
        generator.eval()
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        feats = []
        for start in range(0, self.samples, self.batch):
            n = min(self.batch, self.samples - start)
            z = torch.randn(n, generator.latent_dim, generator=gen, device=self.device)
            feats.append(self.features(generator(z)))
        generator.train(was_training)
        feats = torch.cat(feats)
        if not torch.isfinite(feats).all():
            raise TrialDiverged("the generator produced non-finite images")
        mu, sigma = statistics(feats)
        return frechet_distance(self.real_mu, self.real_sigma, mu, sigma)
