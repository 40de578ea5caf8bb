"""Does the short training predict the long one? A confirmation's numbers, from the study and its companion.

Per architecture: the mean ± sd over seeds of the objective and of every metric, and the confirmed ranking
(by mean). Over architectures: Spearman's and Kendall's rank correlations (τ-b: ties allowed) between the
search score and the confirmed mean, each with a 95% percentile bootstrap interval (architectures
resampled); and whether the search's best is, within noise, the confirmed best (their means less than two
standard errors of the difference apart, each mean's standard error sd / √seeds).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.trial import TrialState

from gansearch.search._objectives import score_of

BOOTSTRAP = 2000  # resamples of the architectures
MIN_FOR_INTERVAL = 4  # architectures below which a bootstrap interval says nothing
NOISE_SE = 2  # two means within this many standard errors of their difference are a tie


def average_ranks(values) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[order[j + 1]] == values[order[i]]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x, y) -> float:
    """Spearman's rank correlation (Pearson's on average ranks); NaN when either side is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def kendall(x, y) -> float:
    """Kendall's τ-b (ties in either side allowed); NaN when either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), 1)
    dx, dy = dx[upper], dy[upper]
    norm = math.sqrt(float((dx != 0).sum()) * float((dy != 0).sum()))
    return float((dx * dy).sum()) / norm if norm else math.nan


def bootstrap_interval(x, y, statistic, resamples: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """The 95% percentile interval of ``statistic(x, y)`` over resamples of the pairs (NaN, NaN for fewer than
    ``MIN_FOR_INTERVAL`` pairs, or when most resamples leave it undefined)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < MIN_FOR_INTERVAL:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        index = rng.integers(0, len(x), len(x))
        value = statistic(x[index], y[index])
        if not math.isnan(value):
            values.append(value)
    if len(values) < resamples / 2:
        return math.nan, math.nan
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


@dataclass
class Confirmed:
    """One architecture: the search trial it came from and what its seeds scored at the longer budget."""

    number: int  # the search trial
    baseline: str | None
    search_score: float
    search_se: float | None
    g_macs: int | None
    score: float | None  # mean over the seeds that completed
    sd: float | None  # their standard deviation (None with one seed)
    se: float | None  # the mean's standard error, sd / sqrt(seeds)
    seeds: int  # seeds that completed
    failed: int  # seeds that failed (diverged: the pair is unstable)
    metrics: dict = field(default_factory=dict)  # metric -> (mean, sd)
    rank: int | None = None  # 1 = the best confirmed mean
    samples: list = field(default_factory=list)  # each completed seed's sample grid, relative to the results folder


@dataclass
class Summary:
    """A study's confirmation (``confirmation(study, companion)``)."""

    rows: list[Confirmed]  # best confirmed mean first; architectures with no completed seed last
    steps: int | None
    seeds: int  # the most seeds any architecture has
    spearman: float
    spearman_ci: tuple[float, float]
    kendall: float
    kendall_ci: tuple[float, float]
    search_best: int | None  # the confirmed architecture with the best search score (its trial number)
    confirmed_best: int | None
    best_holds: str  # "same", "within noise" or "no"
    seed_agreement: float = math.nan  # Spearman of one seed's scores against the other seeds' mean (averaged
    # over seeds): how well one run, even at the long budget, orders these architectures; the search's
    # Spearman cannot be expected above it

    def row(self, number: int) -> Confirmed | None:
        return next((r for r in self.rows if r.number == number), None)


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None


def tie(a: Confirmed, b: Confirmed) -> bool:
    """Are two architectures' confirmed means within noise of each other?"""
    se = math.hypot(a.se or 0.0, b.se or 0.0)
    return abs(a.score - b.score) <= NOISE_SE * se


def confirmation(study: optuna.Study, companion: optuna.Study) -> Summary | None:
    """The confirmation's numbers (module docstring); None when it has no trial yet."""
    searched = {t.number: t for t in study.get_trials(deepcopy=False)}
    by_source: dict[int, list] = {}
    for t in companion.get_trials(deepcopy=False):
        source = t.user_attrs.get("confirm_of")
        if source in searched and t.state in (TrialState.COMPLETE, TrialState.FAIL):
            by_source.setdefault(source, []).append(t)
    if not by_source:
        return None
    rows = []
    for number, trials in by_source.items():
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        failed = [t for t in trials if t.state == TrialState.FAIL
                  and str(t.user_attrs.get("failure", "")).startswith("TrialDiverged")]
        mean, sd = _mean_sd([score_of(t) for t in complete])
        names = [k for k in (complete[0].user_attrs.get("metrics") or {}) if not k.endswith("_se")] if complete else []
        metrics = {k: _mean_sd([t.user_attrs["metrics"][k] for t in complete if k in t.user_attrs.get("metrics", {})])
                   for k in names}
        source = searched[number]
        rows.append(Confirmed(
            number=number, baseline=source.user_attrs.get("baseline"), search_score=score_of(source),
            search_se=source.user_attrs.get("score_se"), g_macs=source.user_attrs.get("g_macs"), score=mean, sd=sd,
            se=sd / math.sqrt(len(complete)) if sd is not None else None, seeds=len(complete), failed=len(failed),
            metrics=metrics, samples=[t.user_attrs.get("samples") for t in sorted(complete, key=lambda t: t.number)]))
    scored = sorted((r for r in rows if r.score is not None), key=lambda r: r.score)
    for i, r in enumerate(scored):
        r.rank = i + 1
    rows = scored + [r for r in rows if r.score is None]
    x, y = [r.search_score for r in scored], [r.score for r in scored]
    search_best = min(scored, key=lambda r: r.search_score) if scored else None
    confirmed_best = scored[0] if scored else None
    if search_best is None:
        holds = "no"
    elif search_best is confirmed_best:
        holds = "same"
    else:
        holds = "within noise" if tie(search_best, confirmed_best) else "no"
    runs = {r.number: [score_of(t) for t in sorted(by_source[r.number], key=lambda t: t.number)
                       if t.state == TrialState.COMPLETE] for r in scored}
    plan = companion.user_attrs.get("gansearch_confirm") or {}
    return Summary(rows=rows, steps=plan.get("steps"), seeds=max((r.seeds + r.failed for r in rows), default=0),
                   spearman=spearman(x, y), spearman_ci=bootstrap_interval(x, y, spearman),
                   kendall=kendall(x, y), kendall_ci=bootstrap_interval(x, y, kendall),
                   search_best=search_best.number if search_best else None,
                   confirmed_best=confirmed_best.number if confirmed_best else None, best_holds=holds,
                   seed_agreement=seed_agreement(list(runs.values())))


def seed_agreement(runs: list[list[float]]) -> float:
    """``runs``: each architecture's scores, one per seed. The Spearman of seed j's scores against the mean
    of the other seeds', averaged over j: the reproducibility of the confirmed order itself (nan with fewer
    than 3 architectures or 2 seeds each)."""
    n = min((len(r) for r in runs), default=0)
    if len(runs) < 3 or n < 2:
        return math.nan
    found = [spearman([r[j] for r in runs], [sum(r[:j] + r[j + 1:n]) / (n - 1) for r in runs]) for j in range(n)]
    found = [f for f in found if not math.isnan(f)]
    return sum(found) / len(found) if found else math.nan


def best_confirmed(summary: Summary) -> tuple[Confirmed, list[Confirmed]]:
    """The best confirmed architecture: of those whose mean is within noise of the best mean, the one with the
    fewest generator MACs (a tie is broken by cost); and the others in that tie."""
    scored = [r for r in summary.rows if r.score is not None]
    tied = [r for r in scored if tie(r, scored[0])]
    pick = min(tied, key=lambda r: (r.g_macs if r.g_macs is not None else math.inf, r.score))
    return pick, [r for r in tied if r is not pick]
