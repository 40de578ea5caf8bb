import numpy as np
import pytest
import scipy.linalg
import torch

from gansearch.metrics import FrechetScorer, RandomFeatures, frechet_distance, statistics


def random_cov(d, seed):
    a = np.random.default_rng(seed).normal(size=(d, d))
    return torch.from_numpy(a @ a.T / d)


def test_frechet_distance_matches_the_scipy_sqrtm_formula():
    s1, s2 = random_cov(20, 0), random_cov(20, 1)
    mu1, mu2 = torch.zeros(20, dtype=torch.float64), torch.full((20,), 0.5, dtype=torch.float64)
    covmean = scipy.linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1.numpy() + s2.numpy() - 2 * covmean))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-6)


def test_identical_statistics_score_zero_and_a_mean_shift_scores_its_square():
    s = random_cov(10, 2)
    mu = torch.zeros(10, dtype=torch.float64)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(mu, s, mu + 2.0, s) == pytest.approx(40.0, rel=1e-6)


def test_rank_deficient_covariance_stays_real_and_finite():
    feats = torch.randn(5, 30)  # 5 samples in 30 dimensions: covariance of rank 4
    mu, sigma = statistics(feats)
    value = frechet_distance(mu, sigma, mu + 1, sigma * 2)
    assert np.isfinite(value) and value > 0


def test_features_are_fixed_by_the_seed():
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    assert torch.equal(RandomFeatures(0)(x), RandomFeatures(0)(x))
    assert not torch.equal(RandomFeatures(0)(x), RandomFeatures(1)(x))
    assert RandomFeatures(0)(x[:, :1]).shape == (4, RandomFeatures(0).dim)


class Replay(torch.nn.Module):
    """A 'generator' that returns images from a fixed pool: lets tests control what is scored."""

    latent_dim = 8

    def __init__(self, pool):
        super().__init__()
        self.pool = pool
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, z):
        idx = (z[:, 0].abs() * 1e6).long() % len(self.pool)
        return self.pool[idx]


def test_real_data_scores_far_better_than_noise_and_statistics_are_cached(tmp_path):
    real = torch.rand(600, 1, 16, 16) * 2 - 1
    real[:, :, 4:12, 4:12] = 1.0  # structure noise does not have
    scorer = FrechetScorer(real, samples=256, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("real_stats_*.pt"))) == 1
    good = scorer.score(Replay(real))
    bad = scorer.score(Replay(torch.rand(600, 1, 16, 16) * 2 - 1))
    assert good * 10 < bad
    again = FrechetScorer(real, samples=256, cache_dir=tmp_path)
    assert torch.equal(again.real_mu, scorer.real_mu)
    assert again.score(Replay(real)) == good
