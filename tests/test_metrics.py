"""The arithmetic of every built-in metric, and its standard error."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gansearch.score import (
    class_shares, coverage, entropy, frechet_distance, jackknife, knn_precision, knn_recall, kth_neighbour_radii,
    mmd2_unbiased, polynomial_kernel, sqrt_psd, statistics,
)


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
    assert frechet_distance(mu1, s1, mu2, s2, root1=sqrt_psd(s1)) == pytest.approx(expected, rel=1e-6)


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


def brute_force_mmd2(x, y):
    k = lambda a, b: (a @ b / len(a) + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return float(xx + yy - 2 * xy)


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 4, generator=g, dtype=torch.float64), torch.randn(9, 4, generator=g, dtype=torch.float64)
    value = mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))
    assert value == pytest.approx(brute_force_mmd2(x, y), rel=1e-9)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(1)
    same = [mmd2_unbiased(polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b))
            for a, b in ((torch.randn(200, 8, generator=g), torch.randn(200, 8, generator=g)) for _ in range(20))]
    shifted = torch.randn(200, 8, generator=g) + 1
    x = torch.randn(200, 8, generator=g)
    apart = mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(shifted, shifted), polynomial_kernel(x, shifted))
    assert min(same) < 0 < max(same)  # unbiased: it straddles zero, unlike a biased estimate
    assert abs(np.mean(same)) < 0.1 * apart


def test_knn_precision_and_recall_see_quality_and_coverage_separately():
    g = torch.Generator().manual_seed(2)
    centres = torch.randn(4, 16, generator=g) * 10
    real = centres.repeat_interleave(100, 0) + torch.randn(400, 16, generator=g)
    radii = kth_neighbour_radii(real, 3)
    half = centres[:2].repeat_interleave(200, 0) + torch.randn(400, 16, generator=g)  # two modes dropped
    fresh = centres.repeat_interleave(100, 0) + torch.randn(400, 16, generator=g)  # the real distribution
    far = real + 50
    assert knn_precision(real, radii, half) == pytest.approx(knn_precision(real, radii, fresh), abs=0.1)
    assert knn_recall(real, half, 3) == pytest.approx(0.5 * knn_recall(real, fresh, 3), abs=0.05)
    assert knn_precision(real, radii, far) == 0 and knn_recall(real, far, 3) == 0


def test_class_coverage_counts_classes_above_one_percent_and_entropy_is_in_nats():
    logits = torch.zeros(200, 10)
    labels = torch.cat([torch.zeros(150, dtype=torch.long), torch.ones(49, dtype=torch.long), torch.tensor([2])])
    logits[torch.arange(200), labels] = 1
    shares = class_shares(logits, 10)
    assert coverage(shares) == 2  # class 2 appears in 0.5% < 1% of samples
    uniform = class_shares(torch.eye(10).repeat(10, 1), 10)
    assert coverage(uniform) == 10 and entropy(uniform) == pytest.approx(math.log(10))


def test_jackknife_of_a_mean_is_the_classical_standard_error():
    x = torch.randn(50, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    value, se = jackknife(lambda index: float(x[index].mean()), 50, blocks=50)
    assert value == pytest.approx(float(x.mean()))
    assert se == pytest.approx(float(x.std() / math.sqrt(50)), rel=1e-9)
    _, se10 = jackknife(lambda index: float(x[index].mean()), 50, blocks=10)
    assert 0.5 * se < se10 < 2 * se
