"""``gansearch confirm``: retrain the study's winners longer, with several seeds, and see whether they stay
winners."""

import sys
from pathlib import Path

from gansearch.config._load import StudyConfig, load_config
from gansearch.confirm._plan import PLAN_ATTR, Confirmation, candidates, companion_config
from gansearch.confirm._statistics import Summary, confirmation
from gansearch.errors import GansearchError, StudyConfigError, StudyNotFound
from gansearch.run._runner import drive
from gansearch.store._open import open_study
from gansearch.study._prepare import prepare

TOP, SEEDS, FACTOR = 5, 3, 4.0  # the defaults: the 5 best, 3 seeds each, 4x the search's steps


def confirm_study(path, top: int = TOP, seeds: int = SEEDS, steps: int | None = None, factor: float = FACTOR,
                  workers=None, progress: bool = True, entry_points: bool | None = None, out=None,
                  verbose: bool = False) -> Summary:
    """Retrain from scratch the ``top`` best distinct architectures of the study in ``path`` (a multi-objective
    study: of its Pareto set) and its baseline, ``seeds`` seeds each, for ``steps`` steps (default ``factor``
    times the study's), with the study's devices, workers and trainer, into its companion study
    (``gansearch.confirm``); resumes where an earlier call stopped. Returns the confirmation's numbers."""
    if top < 1 or seeds < 1 or (steps is not None and steps < 1) or factor <= 0:
        raise GansearchError(f"{path}: --top, --seeds and --steps must be at least 1 and --steps-factor above 0")
    prepared = prepare(path, entry_points=entry_points, run=True, workers=workers)  # every check, nothing written
    config = prepared.config
    study = open_study(config, create=False)
    if not candidates(study, top):
        raise StudyNotFound(f"{config.file}: no complete trial to confirm yet; run `gansearch run {config.file}` first")
    plan = Confirmation(study, top, seeds, steps or max(1, round(factor * config.train.steps)))
    held = _companion(config)
    held = held.user_attrs.get(PLAN_ATTR) if held is not None else None
    if held is not None and held["steps"] != plan.steps:
        raise StudyConfigError(f"its confirmation (in {companion_config(config, plan.steps).storage_url}) trains "
                               f"{held['steps']} steps, not {plan.steps}: confirm with --steps {held['steps']} to go "
                               "on with it, or move it away to start another", file=config.file, key="--steps")
    drive(plan.derive(prepared), path, plan, workers, progress, entry_points, out or sys.stderr, verbose)
    return confirmation(study, open_study(companion_config(config, plan.steps), create=False))


def load_confirmation(study: StudyConfig | str | Path, opened=None) -> Summary | None:
    """The study's confirmation so far (``opened``: the study, if the caller has it open), or None."""
    config = study if isinstance(study, StudyConfig) else load_config(study)
    companion = _companion(config)
    return None if companion is None else confirmation(opened or open_study(config, create=False), companion)


def _companion(config: StudyConfig):
    """The study's companion (its confirmation) as it is, or None."""
    try:
        return open_study(companion_config(config, config.train.steps), create=False)
    except StudyNotFound:
        return None
