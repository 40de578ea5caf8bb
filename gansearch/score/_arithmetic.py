"""The arithmetic of scores: Fréchet distance, KID, k-NN precision and recall, class coverage, and the
jackknife that gives each of them a standard error. Pure functions on feature tensors, computed in
float64 on whatever device the tensors are on (a trial's GPU, where a 300-d eigendecomposition is cheap).
"""

import contextlib
import math
from collections.abc import Callable

import torch


def statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance, in float64."""
    f = features.double()
    mu = f.mean(0)
    centered = f - mu
    return mu, centered.T @ centered / (f.shape[0] - 1)


@contextlib.contextmanager
def single_threaded(device: torch.device | str = "cpu"):
    """Small LAPACK calls run fastest on one thread; with busy cores, several threads can be 50x slower.
    (Nothing to do for work on a GPU.)"""
    if torch.device(device).type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def sqrt_psd(sigma: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a positive semi-definite matrix (negative eigenvalues clipped)."""
    vals, vecs = torch.linalg.eigh(sigma.double())
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(mu1, sigma1, mu2, sigma2, root1: torch.Tensor | None = None) -> float:
    """||mu1 - mu2||² + tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½), via symmetric eigendecompositions (stays real).

    ``root1``: S1^½ when already known (the real statistics' root is computed once per study).
    """
    mu1, sigma1, mu2, sigma2 = (t.double() for t in (mu1, sigma1, mu2, sigma2))
    with single_threaded(sigma2.device):
        root1 = sqrt_psd(sigma1) if root1 is None else root1
        cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * cross
    return float(value.clamp(min=0))


def polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """k(a, b) = (a·b / d + 1)³, the kernel of KID (Bińkowski et al. 2018)."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def mmd2_unbiased(k_xx: torch.Tensor | float, k_yy: torch.Tensor, k_xy: torch.Tensor) -> float:
    """Unbiased MMD² from kernel matrices; ``k_xx`` may be given as its precomputed off-diagonal mean."""
    def off_diagonal_mean(k):
        n = k.shape[0]
        return (k.sum() - k.diagonal().sum()) / (n * (n - 1))

    xx = k_xx if isinstance(k_xx, float) else float(off_diagonal_mean(k_xx))
    return xx + float(off_diagonal_mean(k_yy)) - 2 * float(k_xy.mean())


def kth_neighbour_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    d = torch.cdist(x, x)
    return d.kthvalue(k + 1, dim=1).values  # the 0 distance to itself is the 1st


def in_balls(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each row of ``points``: does it fall inside some centre's ball? (bool, one per point)"""
    return (torch.cdist(points, centres) <= radii[None, :]).any(1)


def knn_precision(real: torch.Tensor, real_radii: torch.Tensor, fake: torch.Tensor) -> float:
    """Share of generated samples inside some real sample's k-NN ball (Kynkäänniemi et al. 2019)."""
    return float(in_balls(fake, real, real_radii).double().mean())


def recall_from_distances(real_to_fake: torch.Tensor, fake_to_fake: torch.Tensor, k: int) -> float:
    """k-NN recall from the (R, F) real-to-generated and (F, F) generated-to-generated distances."""
    radii = fake_to_fake.kthvalue(k + 1, dim=1).values  # the 0 distance to itself is the 1st
    return float((real_to_fake <= radii[None, :]).any(1).double().mean())


def knn_recall(real: torch.Tensor, fake: torch.Tensor, k: int) -> float:
    """Share of real samples inside some generated sample's k-NN ball (Kynkäänniemi et al. 2019)."""
    return recall_from_distances(torch.cdist(real, fake), torch.cdist(fake, fake), k)


def class_shares(logits: torch.Tensor, n_classes: int) -> torch.Tensor:
    """How often each class is predicted, as shares summing to 1."""
    counts = torch.bincount(logits.argmax(1), minlength=n_classes).double()
    return counts / counts.sum()


def coverage(shares: torch.Tensor, threshold: float = 0.01) -> float:
    """How many classes appear in at least ``threshold`` of the samples."""
    return float((shares >= threshold).sum())


def entropy(shares: torch.Tensor) -> float:
    """Entropy of a class distribution, in nats (log K when all K classes are equally frequent)."""
    p = shares[shares > 0]
    return float(-(p * p.log()).sum()) + 0.0  # + 0.0: one class gives 0.0, not -0.0


def jackknife(statistic: Callable[[torch.Tensor], float], n: int, blocks: int = 10) -> tuple[float, float]:
    """``statistic`` on all ``n`` samples, and its delete-a-block jackknife standard error.

    ``statistic(index)`` computes the value on the samples ``index`` (a LongTensor). Blocks are
    contiguous runs of samples, which are i.i.d. draws from the generator.
    """
    everything = torch.arange(n)
    value = statistic(everything)
    blocks = min(blocks, n)
    if blocks < 2:
        return value, math.nan
    parts = everything.tensor_split(blocks)  # near-equal blocks
    leave_out = torch.tensor([statistic(torch.cat(parts[:i] + parts[i + 1:])) for i in range(len(parts))],
                             dtype=torch.float64)
    g = len(parts)
    se = math.sqrt((g - 1) / g * float(((leave_out - leave_out.mean()) ** 2).sum()))
    return value, se
