"""What a metrics plugin registers: feature extractors, and metrics computed on their features.

An ``Extractor`` turns images into feature vectors; it is built once per study from the study's real
data (so it may fit a normalisation or train a small network, cached on disk). A ``Metric`` compares
generated features with real ones and returns one number; gansearch adds the standard error (a
jackknife over blocks of generated samples), so a metric stays a plain function.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from gansearch.plugins._block import NAME_RE


@dataclass(frozen=True)
class ExtractorRequest:
    """What an extractor is built from: the study's real data and where it may cache what it trains."""

    real: torch.Tensor  # (N, C, R, R) in [-1, 1], on the CPU
    labels: torch.Tensor | None  # (N,) int64 class indices, for a labelled dataset
    classes: tuple[str, ...]  # class names of a labelled dataset, else ()
    seed: int  # score.feature_seed: random features and any training derive from it
    cache_dir: Path | None  # where to keep trained weights between runs (None: do not cache)
    options: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"inception_weights": path}


@dataclass(frozen=True)
class Extractor:
    """A feature extractor: ``build(request)`` returns an ``nn.Module`` mapping (B, C, H, W) in [-1, 1]
    to (B, D) features. A module that also has ``classify(x) -> (B, K) logits`` feeds the class metrics.

    ``needs_labels``: only for labelled datasets (the ``classifier`` extractor).
    """

    name: str
    build: Callable[[ExtractorRequest], nn.Module]
    description: str = ""
    needs_labels: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise ValueError(f"extractor name {self.name!r} must match {NAME_RE.pattern}")
        if not callable(self.build):
            raise ValueError(f"extractor {self.name!r}: build must be callable")


class Features:
    """Features of one set of images: ``values`` (N, D) float64 on the scorer's device, ``logits`` (N, K)
    when the extractor classifies, and a memo for what a metric precomputes once on the real set.

    A jackknife subset (``subset``) knows the set it was drawn from (``whole``) and its rows' positions in
    it (``index``; None for the whole set), so a metric may compute something once on the whole set (a
    kernel or distance matrix, in ``whole.memo``) and only index it for each subset.

    ``source``: what made the images, when the scorer knows: for a generator's samples,
    ``{"upsampling": ((side of the map it enlarges, stride), ...)}``, one entry per upsampling layer;
    ``{}`` for images without a generator (real data, a folder)."""

    def __init__(self, values: torch.Tensor, logits: torch.Tensor | None = None,
                 whole: "Features | None" = None, index: torch.Tensor | None = None,
                 source: Mapping[str, Any] | None = None):
        self.values = values
        self.logits = logits
        self.whole = self if whole is None else whole
        self.index = index
        self.source = dict(source or {})
        self._memo: dict[Any, Any] = {}

    @property
    def full_size(self) -> int:
        """Rows of the set a jackknife subset came from (its own size for a whole set)."""
        return len(self.whole)

    def __len__(self):
        return self.values.shape[0]

    def subset(self, index: torch.Tensor) -> "Features":
        index = index.to(self.values.device)
        within = index if self.index is None else self.index[index]
        return Features(self.values[index], None if self.logits is None else self.logits[index], self.whole, within,
                        self.source)

    def memo(self, key, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per set of features (e.g. the real statistics of a Fréchet distance)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def rows(self, matrix: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """``matrix`` computed on the whole set, cut to this subset's rows along ``dim``."""
        return matrix if self.index is None else matrix.index_select(dim, self.index)


@dataclass(frozen=True)
class Metric:
    """A metric: ``compute(real, fake)`` (two ``Features``) returns a float.

    ``lower_is_better``: its direction (an objective must be lower-is-better).
    ``extractor``: the extractor it always uses (``None``: the study's extractor, or ``name@extractor``).
    ``needs_logits``: it reads ``fake.logits`` (class predictions), so it needs a classifying extractor.
    """

    name: str
    compute: Callable[[Features, Features], float]
    lower_is_better: bool = True
    extractor: str | None = None
    needs_logits: bool = False
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise ValueError(f"metric name {self.name!r} must match {NAME_RE.pattern}")
        if not callable(self.compute):
            raise ValueError(f"metric {self.name!r}: compute must be callable")
