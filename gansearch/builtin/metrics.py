"""Built-in extractors and metrics, registered through ``register_metrics`` like any plugin's."""

import torch

from gansearch.builtin.classifier import build_classifier
from gansearch.builtin.features import LayoutFeatures, RandomFeatures
from gansearch.plugins._hookspecs import hookimpl
from gansearch.plugins._metric import Extractor, ExtractorRequest, Features, Metric
from gansearch.score._arithmetic import (
    class_shares, coverage, entropy, frechet_distance, in_balls, kth_neighbour_radii, mmd2_unbiased, polynomial_kernel,
    recall_from_distances, sqrt_psd, statistics,
)

K_NEIGHBOURS = 3  # Kynkäänniemi et al. 2019 use k = 3
KID_MAX_REAL = 2048  # real samples in KID's kernel matrix


# -- extractors ---------------------------------------------------------------------------------


def build_layout(request: ExtractorRequest) -> LayoutFeatures:
    features = LayoutFeatures(request.seed, channels=request.real.shape[1])
    features.fit(torch.cat([features.raw(request.real[i:i + 512]) for i in range(0, len(request.real), 512)]))
    return features


def build_texture(request: ExtractorRequest) -> RandomFeatures:
    return RandomFeatures(request.seed)


def build_inception(request: ExtractorRequest):
    from gansearch.builtin.inception import load_inception

    return load_inception(request.options.get("inception_weights"))


# -- metrics ------------------------------------------------------------------------------------


def fd(real: Features, fake: Features) -> float:
    """Fréchet distance between Gaussians fitted to the two sets of features."""
    mu, sigma, root = real.memo("fd", lambda: (*statistics(real.values), sqrt_psd(statistics(real.values)[1])))
    return frechet_distance(mu, sigma, *statistics(fake.values), root1=root)


def kid(real: Features, fake: Features) -> float:
    """Kernel inception distance: unbiased MMD² with the cubic polynomial kernel."""
    x = real.values[:KID_MAX_REAL]
    xx = real.memo("kid", lambda: mmd2_unbiased(polynomial_kernel(x, x), torch.zeros(2, 2), torch.zeros(1, 1)))
    whole = fake.whole  # kernels on the whole generated set once; each jackknife subset indexes them
    yy = whole.memo("kid_yy", lambda: polynomial_kernel(whole.values, whole.values))
    xy = whole.memo(("kid_xy", id(real)), lambda: polynomial_kernel(x, whole.values))
    return mmd2_unbiased(xx, fake.rows(fake.rows(yy), 1), fake.rows(xy, 1))


def _real_for_knn(real: Features, n: int):
    """As many real samples as generated ones (the k-NN balls depend on the count), with their radii."""
    n = min(n, len(real))
    return real.memo(f"knn{n}", lambda: (real.values[:n], kth_neighbour_radii(real.values[:n], K_NEIGHBOURS)))


def precision(real: Features, fake: Features) -> float:
    """Share of generated samples that fall on the real data's manifold (k-NN balls)."""
    x, radii = _real_for_knn(real, fake.full_size)
    whole = fake.whole
    inside = whole.memo(("precision", id(real)), lambda: in_balls(whole.values, x, radii))
    return float(fake.rows(inside).double().mean())


def recall(real: Features, fake: Features) -> float:
    """Share of real samples that fall on the generated data's manifold (k-NN balls)."""
    x, _ = _real_for_knn(real, fake.full_size)
    whole = fake.whole
    fake_to_fake = whole.memo("cdist", lambda: torch.cdist(whole.values, whole.values))
    real_to_fake = whole.memo(("recall", id(real)), lambda: torch.cdist(x, whole.values))
    return recall_from_distances(fake.rows(real_to_fake, 1), fake.rows(fake.rows(fake_to_fake), 1), K_NEIGHBOURS)


def class_coverage(real: Features, fake: Features) -> float:
    """Classes the classifier sees in at least 1% of the generated samples."""
    return coverage(class_shares(fake.logits, fake.logits.shape[1]))


def class_entropy(real: Features, fake: Features) -> float:
    """Entropy (nats) of the classes the classifier sees in the generated samples; log K is uniform."""
    return entropy(class_shares(fake.logits, fake.logits.shape[1]))


@hookimpl
def register_metrics(register):
    register(Extractor("layout", build_layout, description="label-free default: colour, layout (coarse grids) and "
                       "shape from a mirror-paired random conv net, plus fine detail; standardised on the real data"))
    register(Extractor("texture", build_texture, description="spatial mean/std of random conv features: "
                       "texture only (gansearch 0.1's score)"))
    register(Extractor("classifier", build_classifier, needs_labels=True,
                       description="small CNN trained on the study's labelled real data (cached)"))
    register(Extractor("inception", build_inception, description="standard FID InceptionV3 pool features "
                       "(weights from score.inception_weights or GANSEARCH_INCEPTION_WEIGHTS)"))
    register(Metric("fd", fd, description="Fréchet distance"))
    register(Metric("kid", kid, description="kernel inception distance (unbiased, cubic kernel)"))
    register(Metric("precision", precision, lower_is_better=False, description="k-NN precision (k=3)"))
    register(Metric("recall", recall, lower_is_better=False, description="k-NN recall (k=3)"))
    register(Metric("coverage", class_coverage, lower_is_better=False, extractor="classifier", needs_logits=True,
                    description="classes seen in >= 1% of samples"))
    register(Metric("class_entropy", class_entropy, lower_is_better=False, extractor="classifier",
                    needs_logits=True, description="entropy of the predicted classes (nats)"))
