"""The ``classifier`` extractor: a small CNN trained on the study's own labelled real data.

Trained once per study and data (deterministically: fixed seed, one thread), cached in the study's
cache folder; its 64-d penultimate activations are the features and its logits feed the class
coverage metrics. Label-aware features rank mode dropping the way a person would.
"""

import hashlib
import logging
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from gansearch.builtin.features import to_feature_size
from gansearch.plugins._metric import ExtractorRequest
from gansearch.score._arithmetic import single_threaded

VERSION = 1  # bump when the architecture or the training changes: cached weights are keyed by it
STEPS = 300
BATCH = 64
HELD_OUT = 0.1  # share of the real data kept out of training to measure accuracy
log = logging.getLogger(__name__)


class SmallClassifier(nn.Module):
    """Three conv stages, global average pooling, a 64-d feature layer and a linear classifier."""

    def __init__(self, n_classes: int, dim: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, dim), nn.ReLU(),
        )
        self.head = nn.Linear(dim, n_classes)
        self.dim = dim
        self.accuracy = float("nan")  # on the held-out share of the real data

    def forward(self, x):
        # (B, 1|3, H, W) in [-1, 1] -> (B, dim) features
        return self.body(to_feature_size(x))

    def classify(self, x):
        # (B, 1|3, H, W) in [-1, 1] -> (B, n_classes) logits
        return self.head(self(x))


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift by up to 1/8 of the size and add light noise: predictions then survive a generator's flaws."""
    shift = max(1, x.shape[-1] // 8)
    dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=gen))
    x = torch.roll(x, (dy, dx), dims=(2, 3))
    sigma = float(torch.rand((), generator=gen)) * 0.1
    return (x + sigma * torch.randn(x.shape, generator=gen)).clamp(-1, 1)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, n_classes: int, seed: int) -> SmallClassifier:
    """Train deterministically on the CPU; the same data and seed give the same weights."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=gen)
    n_test = max(1, int(len(images) * HELD_OUT))
    test, train = order[:n_test], order[n_test:]
    with single_threaded(), torch.random.fork_rng():
        torch.manual_seed(seed)
        model = SmallClassifier(n_classes)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=STEPS)
        model.train()
        for _ in range(STEPS):
            idx = train[torch.randint(len(train), (BATCH,), generator=gen)]
            loss = F.cross_entropy(model.classify(_augment(images[idx], gen)), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            model.accuracy = float((model.classify(images[test]).argmax(1) == labels[test]).double().mean())
    return model.requires_grad_(False)


def build_classifier(request: ExtractorRequest) -> SmallClassifier:
    """The study's classifier: loaded from the cache, else trained and cached."""
    n_classes = len(request.classes)
    digest = hashlib.sha1(request.real.numpy().tobytes() + request.labels.numpy().tobytes()).hexdigest()[:16]
    path = None
    if request.cache_dir is not None:
        path = Path(request.cache_dir) / f"classifier_v{VERSION}_{request.seed}_{digest}.pt"
        if path.exists():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model = SmallClassifier(n_classes)
            model.load_state_dict(saved["state"])
            model.accuracy = saved["accuracy"]
            return model.eval().requires_grad_(False)
    model = train_classifier(request.real, request.labels, n_classes, request.seed)
    log.info("classifier trained: %.1f%% held-out accuracy", 100 * model.accuracy)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save({"state": model.state_dict(), "accuracy": model.accuracy}, tmp)
        tmp.replace(path)
    return model
