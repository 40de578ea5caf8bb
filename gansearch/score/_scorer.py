"""Scoring a study's generated images against its real data, the same way everywhere.

``resolve_plan`` turns ``score:`` in a study file into a list of metric columns (checked against the
registry before anything runs); ``Scorer`` builds the extractors those columns need once, keeps the
real features (cached on disk), and scores a generator or any batch of images: the objective alone
during training (fast, for pruning), every metric with its jackknife standard error at the end.
"""

import contextlib
import copy
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from gansearch._cache import extractor_cache_dir
from gansearch.errors import GansearchError, StudyConfigError, TrialDiverged
from gansearch.plugins._metric import ExtractorRequest, Features, Metric
from gansearch.score._arithmetic import jackknife

INCEPTION_ENV = "GANSEARCH_INCEPTION_WEIGHTS"  # where the inception extractor's FID weights may be given
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_HOW_TO = (
    f"{INCEPTION_FILE} is published as a release file of the pytorch-fid project (mseitzer/pytorch-fid) on GitHub; "
    f"pass its path with the study file's score.inception_weights key or the {INCEPTION_ENV} environment variable"
)
REAL_SAMPLES = 2048  # real images in the reference set, at least ``score.samples``
FEATURES_VERSION = 3  # bump when built-in features change: cached real features are keyed by it
BATCH = 512
JACKKNIFE_BLOCKS = 10


@dataclass(frozen=True)
class Column:
    """One stored metric: its column name, the metric, and the extractor whose features it reads."""

    name: str  # "fd", "kid", "fd@classifier", "coverage"
    metric: Metric
    extractor: str


def parse_column(text: str, default_extractor: str, registry, labelled: bool, file: str, key: str) -> Column:
    """``fd`` -> fd on the study's extractor; ``fd@classifier`` -> fd on the classifier's features."""
    name, _, extractor = text.partition("@")
    if name not in registry.metrics:
        raise StudyConfigError(f"unknown metric {name!r}; available: {', '.join(sorted(registry.metrics))}"
                               f"{registry.broken_note()}",
                               file=file, key=key)
    metric = registry.metric(name)
    if metric.extractor and extractor and extractor != metric.extractor:
        raise StudyConfigError(f"metric {name!r} always uses the {metric.extractor!r} extractor", file=file, key=key)
    extractor = metric.extractor or extractor or default_extractor
    check_extractor(extractor, registry, labelled, file, key)
    column = name if extractor == default_extractor or metric.extractor else f"{name}@{extractor}"
    return Column(column, metric, extractor)


def check_extractor(name: str, registry, labelled: bool, file: str, key: str) -> None:
    if name not in registry.extractors:
        raise StudyConfigError(f"unknown extractor {name!r}; available: {', '.join(sorted(registry.extractors))}"
                               f"{registry.broken_note()}",
                               file=file, key=key)
    if registry.extractor(name).needs_labels and not labelled:
        raise StudyConfigError(f"extractor {name!r} needs a labelled dataset (one that registers classes, "
                               "such as digits or shapes)", file=file, key=key)


@dataclass(frozen=True)
class Plan:
    """What a study scores: the objective column and every column stored for a complete trial."""

    objective: Column
    columns: tuple[Column, ...]  # the objective first

    @property
    def extractors(self) -> list[str]:
        return list(dict.fromkeys(c.extractor for c in self.columns))


def resolve_plan(config, registry, labelled: bool) -> Plan:
    """Check ``score:`` against the registry; ``metrics: auto`` picks every metric that applies."""
    s, file = config.score, config.file
    check_extractor(s.extractor, registry, labelled, file, "score.extractor")
    objective = parse_column(s.objective, s.extractor, registry, labelled, file, "score.objective")
    if not objective.metric.lower_is_better:
        allowed = ", ".join(n for n, p in sorted(registry.metrics.items()) if p.obj.lower_is_better)
        raise StudyConfigError(f"{objective.metric.name!r} is higher-is-better; the objective is minimised: "
                               f"choose one of {allowed}", file=file, key="score.objective")
    if s.metrics == "auto":
        texts = []
        for name, provided in registry.metrics.items():
            metric = provided.obj
            if metric.extractor:
                fixed = registry.extractors.get(metric.extractor)
                if fixed is not None and (labelled or not fixed.obj.needs_labels):
                    texts.append(name)
            elif not metric.needs_logits:
                texts.append(name)
        if labelled and s.extractor != "classifier" and "classifier" in registry.extractors:
            texts.append("fd@classifier")
        keys = [f"score.metrics (auto: {t})" for t in texts]
    elif isinstance(s.metrics, str):
        raise StudyConfigError("expected auto or a list of metric names", file=file, key="score.metrics")
    else:
        texts, keys = s.metrics, [f"score.metrics.{i}" for i in range(len(s.metrics))]
    columns = {objective.name: objective}
    for text, key in zip(texts, keys):
        column = parse_column(text, s.extractor, registry, labelled, file, key)
        if column.metric.needs_logits and column.extractor != "classifier" and not labelled:
            raise StudyConfigError(f"metric {column.metric.name!r} needs class predictions", file=file, key=key)
        columns.setdefault(column.name, column)
    plan = Plan(objective, tuple(columns.values()))
    if "inception" in plan.extractors:
        check_inception_weights(config)
    return plan


def check_inception_weights(config) -> None:
    """The FID weights must be a local file; checked before anything runs (they are never downloaded)."""
    weights = config.score.inception_weights or os.environ.get(INCEPTION_ENV)
    if not weights:
        raise StudyConfigError(f"the inception extractor needs its weights: {INCEPTION_HOW_TO}", file=config.file,
                               key="score.inception_weights")
    path = config.base_dir / Path(weights).expanduser()
    if not path.is_file():
        source = "score.inception_weights" if config.score.inception_weights else INCEPTION_ENV
        raise StudyConfigError(f"no such file {path} (from {source})", file=config.file,
                               key="score.inception_weights")


def reference_set(real: torch.Tensor, samples: int, seed: int) -> torch.Tensor:
    """All of a small dataset, a random subset of a large one; seeded order either way (so a metric that
    reads the first n never sees only the first classes of a sorted folder)."""
    n = max(samples, REAL_SAMPLES)
    return real[torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))[:n]]


def study_options(config) -> dict:
    """What extractors may read from a study file (a relative weights path is relative to the study file)."""
    weights = config.score.inception_weights
    return {"inception_weights": str(config.base_dir / Path(weights).expanduser()) if weights else None}


def build_scorer(config, make):
    """``make()``, with an extractor that cannot be built (inception without weights, a metric that
    needs class predictions from one that makes none) reported as a one-line config error."""
    try:
        return make()
    except StudyConfigError as exc:
        if exc.file:
            raise
        raise StudyConfigError(exc.message, file=config.file, key=exc.key) from None
    except GansearchError as exc:
        raise StudyConfigError(str(exc), file=config.file, key="score") from None


@contextlib.contextmanager
def exact_fp32(device: torch.device):
    """CUDA matmuls and convolutions in full fp32 (no TF32) inside this block; nothing to do on the CPU."""
    if device.type != "cuda":
        yield
        return
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


class Scorer:
    """Scores images against a study's real data with the study's extractors and metrics."""

    def __init__(self, plan: Plan, registry, real: torch.Tensor, labels: torch.Tensor | None = None,
                 classes: tuple[str, ...] = (), samples: int = 1024, seed: int = 0, feature_seed: int = 0,
                 device: str | torch.device = "cpu", cache_dir: Path | None = None, options=None,
                 built: dict | None = None):
        self.plan = plan
        self.samples = samples
        self.seed = seed
        self.device = torch.device(device)
        real = real.detach().float().cpu()
        index = reference_set(torch.arange(len(real)), samples, feature_seed)
        request = ExtractorRequest(real[index], None if labels is None else labels[index], tuple(classes),
                                   feature_seed, extractor_cache_dir(), dict(options or {}))
        self.extractors: dict[str, nn.Module] = {}
        self.build_seconds: dict[str, float] = {}  # building each extractor (0 when ``built`` had it)
        for name in plan.extractors:  # every extractor first: one that cannot be built stops before any cache write
            memo = (name, len(request.real), feature_seed)  # ``built``: extractors this process built already
            started = time.perf_counter()
            module = built.get(memo) if built is not None else None
            if module is None:
                module = registry.extractor(name).build(request).eval()
                if built is not None:
                    built[memo] = module
            self.build_seconds[name] = time.perf_counter() - started
            if self.device.type != "cpu":  # the CPU copy stays as built, for the next scorer
                module = copy.deepcopy(module)
            self.extractors[name] = module
        for column in plan.columns:
            if column.metric.needs_logits and not hasattr(self.extractors[column.extractor], "classify"):
                raise StudyConfigError(f"metric {column.metric.name!r} needs class predictions, which the "
                                       f"{column.extractor!r} extractor does not make", key="score.metrics")
        self.real: dict[str, Features] = {}
        for name, module in self.extractors.items():
            key = None
            if cache_dir is not None:  # the data and the extractor's own weights: either changes the features
                digest = hashlib.sha1(request.real.numpy().tobytes())
                for tensor in module.state_dict().values():
                    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
                key = Path(cache_dir) / f"real_{name}_v{FEATURES_VERSION}_{feature_seed}_{digest.hexdigest()[:16]}.pt"
            self.extractors[name] = module.to(self.device)
            self.real[name] = self._real_features(name, request.real, key)

    @classmethod
    def for_study(cls, prepared, device="cpu") -> "Scorer":
        """The scorer a study's trials share: its plan, sample count, seeds and caches."""
        c = prepared.config
        return build_scorer(c, lambda: cls(prepared.plan, prepared.registry, prepared.data, prepared.labels,
                                           prepared.classes, samples=c.score.samples, seed=c.seed,
                                           feature_seed=c.score.feature_seed, device=device,
                                           cache_dir=c.output_dir / "cache", options=study_options(c),
                                           built=prepared.extractors))

    def _real_features(self, name, real, key: Path | None) -> Features:
        if key is not None and key.exists():
            saved = torch.load(key, map_location=self.device, weights_only=True)
            return Features(saved["values"].double(), saved["logits"])
        features = self.features(name, real)
        if key is not None:  # a cache: if it cannot be written (a full disk), the features are simply not kept
            tmp = key.with_suffix(f".{os.getpid()}.tmp")
            logits = None if features.logits is None else features.logits.cpu()
            try:
                key.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"values": features.values.float().cpu(), "logits": logits}, tmp)
                tmp.replace(key)
            except (OSError, RuntimeError):
                tmp.unlink(missing_ok=True)
        return features

    @torch.no_grad()
    def features(self, name: str, images: torch.Tensor, source=None) -> Features:
        """Features (and logits, for a classifying extractor) of images (N, C, H, W) in [-1, 1], on the
        scorer's device, where every metric is then computed (``source``: see ``Features``)."""
        module = self.extractors[name]
        values, logits = [], []
        with exact_fp32(self.device):  # as the real features were made, whatever the trainer's precision
            for start in range(0, len(images), BATCH):
                x = images[start:start + BATCH].to(self.device).float()
                f = module(x)
                values.append(f.float())
                if hasattr(module, "classify"):
                    logits.append(module.classify(x).float())
        values = torch.cat(values).double()  # float32 precision, as cached: fresh equals cached
        if not torch.isfinite(values).all():
            raise TrialDiverged("non-finite features: the images hold NaN or inf")
        return Features(values, torch.cat(logits) if logits else None, source=source)

    @torch.no_grad()
    def generate(self, generator: nn.Module) -> torch.Tensor:
        """``samples`` images from fixed noise (the same for every trial), in eval mode."""
        was_training = generator.training
        generator.eval()
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        images = []
        for start in range(0, self.samples, BATCH):
            n = min(BATCH, self.samples - start)
            images.append(generator(torch.randn(n, generator.latent_dim, generator=gen, device=self.device)))
        generator.train(was_training)
        images = torch.cat(images)
        if not torch.isfinite(images).all():
            raise TrialDiverged("the generator produced non-finite images")
        return images

    def score(self, generator: nn.Module) -> float:
        """The objective of ``samples`` generated images: what the trainer reports for pruning."""
        column = self.plan.objective
        fake = self.features(column.extractor, self.generate(generator), generator_source(generator))
        return float(column.metric.compute(self.real[column.extractor], fake))

    def evaluate(self, images: torch.Tensor, source=None) -> dict[str, float]:
        """Every metric of the plan on ``images`` (N, C, H, W) in [-1, 1], each with ``<name>_se``
        (``source``: what made them, see ``Features``)."""
        fakes = {name: self.features(name, images, source) for name in self.plan.extractors}
        out = {}
        for column in self.plan.columns:
            real, fake = self.real[column.extractor], fakes[column.extractor]
            value, se = jackknife(lambda index: float(column.metric.compute(real, fake.subset(index))),
                                  len(fake), JACKKNIFE_BLOCKS)
            out[column.name], out[f"{column.name}_se"] = value, se
        return out

    def evaluate_generator(self, generator: nn.Module) -> dict[str, float]:
        return self.evaluate(self.generate(generator), generator_source(generator))


def generator_source(generator: nn.Module) -> dict:
    """What the scorer tells metrics about a generator (``Features.source``): its upsampling layers."""
    upsampling = getattr(generator, "upsampling", None)
    return {} if upsampling is None else {"upsampling": tuple(upsampling)}
