"""Does a study's objective rank known degradations of its own real data the way a person would?

Half of the real data is the reference; the other half, held out, is scored as it is and degraded
in ways whose badness we know: light to heavy noise and blur, mode dropping, collapse. ``calibrate``
scores each with its standard error and compares the ranking with ``INTENDED`` (Kendall τ): mode
dropping counts as worse than light noise or light blur.

Orientation changes (``ORIENTATION``: a left-right flip, a 180° rotation) are scored too, but outside the
order: what they cost depends on the data (a flip changes every digit, but only the 4 chiral shapes of
10), so there is no one place for them in it. They must still be clearly worse than real data.

A translate study scores outputs against the targets of its held-out pairs, so there the held-out
targets themselves are "real", their degradations are scored against them, and the conditions
themselves, as outputs, are one more row (``identity``: doing nothing), outside the intended order.
"""

import math
from dataclasses import dataclass, field

import torch

from gansearch.data._pairs import gaussian_blur
from gansearch.score._scorer import Plan, Scorer, build_scorer, study_options

# best to worst; class-based entries are skipped for unlabelled data
INTENDED = ("real", "noise0.05", "blur0.5", "noise0.1", "blur1.0", "classes5", "noise0.2", "blur2.0", "classes3",
            "classes1", "repeat1", "constant")
ORIENTATION = ("fliplr", "rot180")  # scored outside the order: their cost depends on the data
CLASS_BASED = ("classes5", "classes3", "classes1")


def degrade(name: str, x: torch.Tensor, labels: torch.Tensor | None, pool: torch.Tensor,
            pool_labels: torch.Tensor | None, gen: torch.Generator) -> torch.Tensor:
    """One named degradation of the held-out images ``x`` (``pool``: images to resample classes from)."""
    if name == "real":
        return x
    if name.startswith("noise"):
        return (x + float(name[5:]) * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    if name.startswith("blur"):
        return gaussian_blur(x, float(name[4:]))
    if name.startswith("classes"):  # the same number of images, drawn from the first k classes only
        keep = pool[pool_labels < int(name[7:])]
        return keep[torch.randint(len(keep), (len(x),), generator=gen)]
    if name == "repeat1":
        return x[:1].expand_as(x).clone()
    if name == "rot180":
        return x.flip(-1, -2)
    if name == "fliplr":
        return x.flip(-1)
    if name == "constant":
        return x.mean((2, 3), keepdim=True).expand_as(x).clone()
    if name.startswith("checker"):
        return (x + float(name[7:]) * checker_pattern(x.shape[-1])).clamp(-1, 1)
    raise ValueError(f"unknown degradation {name!r}")


def checker_pattern(side: int) -> torch.Tensor:
    """(side, side), zero mean, peak 1: the uneven overlap a stride-2, kernel-3 transposed convolution leaves
    (each output pixel of a 2 x 2 cell gets 1, 2, 2 or 4 kernel taps), tiled over the image."""
    tile = torch.tensor([[1.0, 2.0], [2.0, 4.0]])
    tile = (tile - tile.mean()) / (tile - tile.mean()).abs().max()
    return tile.repeat((side + 1) // 2, (side + 1) // 2)[:side, :side]


@dataclass
class Calibration:
    rows: list[tuple[str, float, float]]  # (degradation, score, standard error) in INTENDED order
    tau: float  # Kendall's τ between the intended order and the scores
    unclear: list[str]  # degradations (orientation changes too) not clearly (2 standard errors) worse than real data
    not_monotone: list[str]  # noise or blur levels scoring better than a lighter level
    extra: list[tuple[str, float, float]] = field(default_factory=list)  # outside the order: orientation, identity

    def table(self) -> str:
        lines = [f"{'degradation':<12} {'score':>10} {'± se':>9}"]
        lines += [f"{name:<12} {value:>10.4g} {se:>9.2g}{'  not clear' if name in self.unclear else ''}"
                  for name, value, se in self.rows]
        lines.append(f"Kendall tau against the intended order: {self.tau:.3f}")
        notes = {"identity": "the conditions as outputs: doing nothing"}
        lines += [f"{name:<12} {value:>10.4g} {se:>9.2g}  ({notes.get(name, 'outside the order')})"
                  + ("  not clear" if name in self.unclear else "") for name, value, se in self.extra]
        return "\n".join(lines)


def kendall_tau(scores: list[float]) -> float:
    """τ-a between positions 0..n-1 (the intended order) and ``scores`` (no ties expected)."""
    n, s = len(scores), 0
    for i in range(n):
        for j in range(i + 1, n):
            s += (scores[j] > scores[i]) - (scores[j] < scores[i])
    return s / (n * (n - 1) / 2)


def calibrate(prepared, seed: int = 0, device="cpu") -> Calibration:
    """Score held-out real data and its degradations with the study's objective (see module docstring)."""
    if prepared.pairs is not None:
        return _calibrate_translate(prepared, seed, device)
    names = [n for n in INTENDED if prepared.labels is not None or n not in CLASS_BASED]
    column = prepared.plan.objective.name
    scores = degradation_scores(prepared, (*names, *ORIENTATION), seed=seed, device=device)
    rows = [(name, scores[name][column], scores[name][f"{column}_se"]) for name in (*names, *ORIENTATION)]
    return _summarise(rows[:len(names)], rows[len(names):])


def degradation_scores(prepared, names, columns=None, seed: int = 0, device="cpu") -> dict[str, dict[str, float]]:
    """Degradation name -> every metric of ``columns`` (default: the objective; a list of ``Column``) with its
    standard error, for the held-out half of a noise-to-image study's real data degraded that way (the other
    half is the reference)."""
    c = prepared.config
    data, labels = prepared.data, prepared.labels
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    half = len(data) // 2
    ref, held = order[:half], order[half:][: c.score.samples]
    columns = tuple(columns or (prepared.plan.objective,))
    plan = Plan(columns[0], columns)
    scorer = build_scorer(c, lambda: Scorer(plan, prepared.registry, data[ref], None if labels is None else labels[ref],
                                            prepared.classes, samples=c.score.samples, seed=c.seed,
                                            feature_seed=c.score.feature_seed, device=device,
                                            options=study_options(c)))
    gen = torch.Generator().manual_seed(seed)
    x = data[held]
    out = {}
    for name in names:
        images = degrade(name, x, None if labels is None else labels[held], data[order[half:]],
                         None if labels is None else labels[order[half:]], gen)
        out[name] = scorer.evaluate(images)
    return out


def _summarise(rows: list[tuple[str, float, float]], extra: list[tuple[str, float, float]] = ()) -> Calibration:
    """``rows`` in the intended order, ``extra`` outside it (orientation changes, then identity for a translate
    study: only the degradations must be clearly worse than real data)."""
    real_value, real_se = rows[0][1], rows[0][2]
    unclear = [n for n, v, se in [*rows[1:], *extra]
               if n != "identity" and v - real_value <= 2 * math.hypot(se, real_se)]
    not_monotone = []
    for family in ("noise", "blur"):
        levels = [(n, v) for n, v, _ in rows if n.startswith(family)]
        levels.sort(key=lambda nv: float(nv[0][len(family):]))
        not_monotone += [b for (_, va), (b, vb) in zip(levels, levels[1:]) if vb <= va]
    return Calibration(rows, kendall_tau([v for _, v, _ in rows]), unclear, not_monotone, list(extra))


def _calibrate_translate(prepared, seed: int, device) -> Calibration:
    """The held-out targets as outputs, their degradations, and (outside the order) the conditions."""
    from gansearch.score._translate import TranslationScorer

    scorer = TranslationScorer.for_study(prepared, device)
    column = prepared.plan.objective.name
    cond, target = prepared.pairs.held_out_pairs()
    gen = torch.Generator().manual_seed(seed)
    rows = []
    names = [n for n in INTENDED if n not in CLASS_BASED]
    for name in (*names, *ORIENTATION):
        result = scorer.evaluate_outputs(degrade(name, target, None, target, None, gen).to(scorer.device))
        rows.append((name, result[column], result[f"{column}_se"]))
    identity = scorer.evaluate_identity(prepared.config.translate)
    return _summarise(rows[:len(names)], [*rows[len(names):], ("identity", identity[column], identity[f"{column}_se"])])

