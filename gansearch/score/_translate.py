"""Scoring a translate study's generator on its held-out pairs, and its sample grids.

Metrics, each per held-out pair with its standard error (the Fréchet distance by jackknife):
``l1`` (mean absolute error, images in [-1, 1]), ``psnr`` (dB, images in [0, 1]), ``ssim`` (Gaussian
window 11 px, sigma 1.5, or the image side when smaller; Wang et al. 2004), ``dssim`` = (1 - ssim) / 2,
and ``fd``: the Fréchet distance of the outputs against the study's real images in the study's feature
space (``score.extractor``). The objective is one of the lower-is-better ones: l1, dssim or fd.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from gansearch.config._load import TRANSLATE_OBJECTIVES
from gansearch.data._pairs import preview_index
from gansearch.errors import StudyConfigError
from gansearch.nets._builder import translate
from gansearch.score._scorer import Plan, Scorer, build_scorer, check_extractor, parse_column, study_options

METRICS = ("l1", "psnr", "ssim", "dssim", "fd")
PREVIEW = 8  # held-out pairs in a translate trial's sample grid
BATCH = 64


@dataclass(frozen=True)
class TranslateColumn:
    name: str


@dataclass(frozen=True)
class TranslatePlan:
    """What a translate study scores: the objective and every stored column (``METRICS``)."""

    objective: TranslateColumn
    columns: tuple[TranslateColumn, ...]
    extractor: str  # features of the fd column

    @property
    def extractors(self) -> list[str]:
        return [self.extractor]


def translate_plan(config, registry, labelled: bool) -> TranslatePlan:
    s = config.score
    if s.objective not in TRANSLATE_OBJECTIVES:
        raise StudyConfigError(f"{s.objective!r} is not a translate objective; choose one of "
                               f"{', '.join(TRANSLATE_OBJECTIVES)} (psnr and ssim are stored too)",
                               file=config.file, key="score.objective")
    check_extractor(s.extractor, registry, labelled, config.file, "score.extractor")
    return TranslatePlan(TranslateColumn(s.objective), tuple(TranslateColumn(m) for m in METRICS), s.extractor)


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-t**2 / (2 * sigma**2))
    return k / k.sum()


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of (N, C, H, W) images in [-1, 1] (computed in [0, 1]), averaged over channels and pixels."""
    x, y = (x.float() + 1) / 2, (y.float() + 1) / 2
    c = x.shape[1]
    size = min(11, x.shape[-1] - (1 - x.shape[-1] % 2))  # odd, at most the side
    k = _gaussian_window(size, 1.5).to(x.device)
    k1, k2 = k.view(1, 1, 1, -1).expand(c, 1, 1, -1), k.view(1, 1, -1, 1).expand(c, 1, -1, 1)

    def blur(t):  # valid Gaussian filtering, per channel
        return F.conv2d(F.conv2d(t, k1, groups=c), k2, groups=c)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [-1, 1], measured in [0, 1] (peak 1)."""
    mse = (((x.float() - y.float()) / 2) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return -10 * torch.log10(mse)


def mean_se(values: torch.Tensor) -> tuple[float, float]:
    v = values.double()
    return float(v.mean()), float(v.std() / math.sqrt(len(v))) if len(v) > 1 else 0.0


class TranslationScorer:
    """Scores a translator on a translate study's held-out pairs (same interface as ``Scorer``)."""

    def __init__(self, prepared, device="cpu", cache_dir=None):
        c = prepared.config
        self.plan = prepared.plan
        self.device = torch.device(device)
        cond, target = prepared.pairs.held_out_pairs()
        self.cond, self.target = cond.to(self.device), target.to(self.device)
        labels = None if prepared.labels is None else prepared.labels[prepared.pairs.held_out]
        self.preview_positions = preview_index(len(cond), PREVIEW, c.seed, labels)
        fd = parse_column("fd", c.score.extractor, prepared.registry, prepared.labels is not None, c.file,
                          "score.extractor")
        self.features = build_scorer(c, lambda: Scorer(
            Plan(fd, (fd,)), prepared.registry, prepared.data, prepared.labels, prepared.classes,
            samples=len(cond), seed=c.seed, feature_seed=c.score.feature_seed, device=device, cache_dir=cache_dir,
            options=study_options(c), built=prepared.extractors))

    @classmethod
    def for_study(cls, prepared, device="cpu") -> "TranslationScorer":
        return cls(prepared, device, cache_dir=prepared.config.output_dir / "cache")

    @property
    def build_seconds(self) -> dict[str, float]:
        return self.features.build_seconds

    def _fd(self, outputs) -> float:
        column = self.features.plan.objective
        fake = self.features.features(column.extractor, outputs)
        return float(column.metric.compute(self.features.real[column.extractor], fake))

    def score(self, generator: nn.Module) -> float:
        """The objective on the held-out pairs: what the trainer reports for pruning."""
        out = translate(generator, self.cond)
        name = self.plan.objective.name
        if name == "l1":
            return float((out - self.target).abs().mean())
        if name == "dssim":
            return float(((1 - ssim(out, self.target)) / 2).mean())
        return self._fd(out)

    def evaluate_outputs(self, out: torch.Tensor) -> dict[str, float]:
        """Every metric of outputs for the held-out conditions, each with ``<name>_se``."""
        result = {}
        per_image = {"l1": (out - self.target).abs().flatten(1).mean(1), "psnr": psnr(out, self.target)}
        s = ssim(out, self.target)
        per_image.update(ssim=s, dssim=(1 - s) / 2)
        for name, values in per_image.items():
            result[name], result[f"{name}_se"] = mean_se(values.cpu())
        fd = self.features.evaluate(out)
        result["fd"], result["fd_se"] = fd["fd"], fd["fd_se"]
        return result

    def evaluate_generator(self, generator: nn.Module) -> dict[str, float]:
        return self.evaluate_outputs(translate(generator, self.cond))

    def evaluate_identity(self, translate_config) -> dict[str, float]:
        """Every metric of doing nothing: the held-out conditions themselves as outputs (``identity_outputs``)."""
        return self.evaluate_outputs(identity_outputs(self.cond, self.target, translate_config))

    def preview(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``PREVIEW`` held-out (condition, target) pairs drawn across the held-out set, for sample grids."""
        index = self.preview_positions.to(self.device)
        return self.cond[index].cpu(), self.target[index].cpu()


def identity_outputs(cond: torch.Tensor, target: torch.Tensor, translate_config) -> torch.Tensor:
    """What "doing nothing" outputs for each condition: the condition itself, in the target's channels (a
    grey condition repeated in each colour channel); for ``downsample``, the small image enlarged back
    bicubically, the reference every super-resolution paper reports."""
    if translate_config.condition == "downsample":
        r = target.shape[-1]
        small = max(r // translate_config.factor, 1)
        low = F.interpolate(target.float(), size=(small, small), mode="bilinear", antialias=True, align_corners=False)
        return F.interpolate(low, size=(r, r), mode="bicubic", align_corners=False).clamp(-1, 1)
    if cond.shape[1] != target.shape[1]:
        return cond.expand(-1, target.shape[1], -1, -1).clone()
    return cond.clone()


def scorer_for(prepared, device="cpu"):
    """The scorer a study's trials share: generated images against real ones, or a translate study's
    outputs on its held-out pairs."""
    if prepared.pairs is not None:
        return TranslationScorer.for_study(prepared, device)
    return Scorer.for_study(prepared, device)
