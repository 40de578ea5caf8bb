"""Single- and multi-objective studies: what Optuna optimises, in which directions, and how a
multi-objective study prunes.

``objectives: [score, g_macs]`` trades the study's quality score against a cost. Allowed: ``score``
(always: the study's ``score.objective``), ``g_params``, ``g_macs``, ``g_latency_ms``, and in translate
studies ``l1``, ``psnr``, ``ssim``, ``dssim`` and ``fd`` (psnr and ssim are maximised, the rest minimised).

Optuna does not prune multi-objective studies, so gansearch does, on the quality score alone: at each
evaluation step a trial is pruned when its score is worse than the median of the scores earlier trials
(complete or pruned) reported at that step, once ``MIN_PEERS`` of them have (the median rule, as
Optuna's MedianPruner applies it to single-objective studies). The baseline and a trial's last step are
never pruned; ``pruner: none`` turns it off.
"""

import statistics

import optuna
from optuna.trial import TrialState

COSTS = ("g_params", "g_macs", "g_latency_ms")
TRANSLATE_COLUMNS = ("l1", "psnr", "ssim", "dssim", "fd")
MAXIMISED = {"psnr", "ssim"}
MIN_PEERS = 5


def allowed(task: str) -> tuple[str, ...]:
    return ("score", *COSTS, *(TRANSLATE_COLUMNS if task == "translate" else ()))


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


def should_prune_on_quality(trial: optuna.Trial, step: int, value: float, config) -> bool:
    """The multi-objective median rule (module docstring)."""
    if config.pruner == "none":
        return False
    key = str(step)
    peers = [t.user_attrs["reported"][key] for t in trial.study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if key in (t.user_attrs.get("reported") or {})]
    return len(peers) >= MIN_PEERS and value > statistics.median(peers)
