"""Single- and multi-objective studies: what Optuna optimises, in which directions, and how a
multi-objective study prunes.

``objectives: [score, g_macs]`` trades the study's quality score against a cost. Allowed: ``score``
(always: the study's ``score.objective``), ``g_params``, ``g_macs``, ``g_latency_ms``, and in translate
studies ``l1``, ``psnr``, ``ssim``, ``dssim`` and ``fd`` (psnr and ssim are maximised, the rest minimised).

Optuna does not prune multi-objective studies, so gansearch does, on the quality score alone, by the
median rule among trials at most as costly: at each evaluation step a trial is pruned when its score is
worse than the median of the scores reported at that step by earlier trials (complete or pruned) that
cost no more than it on every cost objective the study names, once ``MIN_PEERS`` of them have. Only a
trial at most as costly can dominate it, so a cheap trial is never pruned because dearer ones score
better: that would empty the cheap end of the Pareto front. Costs are those known before training
(``g_params``, ``g_macs``; ``g_latency_ms`` is measured after training, so ``g_macs`` stands in for it).
A study whose objectives name no cost compares with every earlier trial (Optuna's MedianPruner rule).
The baseline and a trial's last step are never pruned; ``pruner: none`` turns it off.
"""

import statistics

import optuna
from optuna.trial import TrialState

from gansearch.config._load import COSTS

MAXIMISED = {"psnr", "ssim"}
MIN_PEERS = 5


def is_multi(config) -> bool:
    return bool(config.objectives) and len(config.objectives) > 1


def directions(config) -> list[str]:
    if not is_multi(config):
        return ["minimize"]
    return ["maximize" if name in MAXIMISED else "minimize" for name in config.objectives]


def values(config, score: float, metrics: dict, attrs: dict) -> float | list[float]:
    """What the objective returns to Optuna: the score, or each named objective in order."""
    if not is_multi(config):
        return score
    pick = {"score": score, **{k: attrs.get(k) for k in COSTS}, **metrics}
    return [float(pick[name]) for name in config.objectives]


def score_of(trial: optuna.trial.FrozenTrial) -> float | None:
    """A finished trial's quality score, single- or multi-objective."""
    if trial.state != TrialState.COMPLETE or trial.values is None:
        return None
    if len(trial.values) == 1:
        return trial.values[0]
    return trial.user_attrs.get("score")


def pruning_costs(config) -> tuple[str, ...]:
    """The costs a multi-objective study's pruning compares trials on: those it names, known before
    training (``g_macs`` standing in for ``g_latency_ms``)."""
    named = {"g_macs" if name == "g_latency_ms" else name for name in config.objectives or ()}
    return tuple(name for name in ("g_params", "g_macs") if name in named)


def should_prune_on_quality(trial: optuna.Trial, step: int, value: float, config) -> bool:
    """The multi-objective median rule among trials at most as costly (module docstring)."""
    if config.pruner == "none":
        return False
    key = str(step)
    costs = pruning_costs(config)
    mine = {name: trial.user_attrs.get(name) for name in costs}

    def at_most_as_costly(other) -> bool:
        return all(mine[name] is not None and other.user_attrs.get(name) is not None
                   and other.user_attrs[name] <= mine[name] for name in costs)

    peers = [t.user_attrs["reported"][key] for t in trial.study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if key in (t.user_attrs.get("reported") or {}) and at_most_as_costly(t)]
    return len(peers) >= MIN_PEERS and value > statistics.median(peers)
