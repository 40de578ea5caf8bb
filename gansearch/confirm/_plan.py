"""What a confirmation trains: the study's best distinct architectures and its baseline, retrained from
scratch with several seeds at a longer budget, as the trials of a companion study.

The companion study lives beside the study: in the same database for an RDB ``storage:``, as
``<name>-confirm``; with the default journal, in ``runs/<name>/confirm/`` (its own journal, lock and
``trials/``), so the run machinery (workers, resume, Ctrl-C, repair after a crash) treats it exactly as a
study. Each of its trials is queued with the search trial's parameters and carries ``confirm_of`` (that
trial's number), ``replicate`` (0..seeds-1) and ``confirm_seed`` (the seed it trains from).
"""

import dataclasses
import json
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from gansearch._seeds import derive_seed
from gansearch.config._load import StudyConfig
from gansearch.search._objectives import score_of
from gansearch.search._space import SearchSpace
from gansearch.study._prepare import Prepared

SUFFIX = "-confirm"
CONFIRM_SALT = 7_777  # mixed into every confirmation seed: never a seed the search itself trained from
PLAN_ATTR = "gansearch_confirm"  # the companion study's user attribute: what it confirms, at which budget
RESULT_FAILURES = ("TrialDiverged",)  # a seed that failed this way is a result (the pair is unstable), not retried


def companion_config(config: StudyConfig, steps: int) -> StudyConfig:
    """The companion study's config: the study's, ``steps`` long, evaluated once at the end, never pruned,
    in ``<output>/confirm`` (its journal there) or as ``<name>-confirm`` in the study's database; a trial's
    time limit (``trial_timeout``, or the study's ``timeout``) scaled by the longer steps."""
    train = dataclasses.replace(config.train, steps=steps, eval_every=steps)
    limit = config.trial_limit  # a trial's time limit grows with its steps
    limit = None if limit is None else limit * max(1.0, steps / config.train.steps)
    return dataclasses.replace(config, name=config.name + SUFFIX, output=str(config.output_dir / "confirm"),
                               train=train, pruner="none", sampler="random", timeout=None, trial_timeout=limit)


@dataclass(frozen=True)
class Confirming:
    """Turns a prepared study into its companion (picklable: worker processes apply it to their own
    ``prepare``)."""

    steps: int

    def __call__(self, prepared: Prepared) -> Prepared:
        config = companion_config(prepared.config, self.steps)
        space = SearchSpace(config, prepared.registry, prepared.space.channels)
        return dataclasses.replace(prepared, config=config, space=space)


def _identity(trial: optuna.trial.FrozenTrial) -> str:
    """What makes two trials the same design: their parameters (a fixed design: its architecture and training)."""
    if trial.params:
        return json.dumps(trial.params, sort_keys=True, default=str)
    train = {k: v for k, v in (trial.user_attrs.get("train") or {}).items() if k != "seed"}
    return json.dumps([trial.user_attrs.get("arch"), train], sort_keys=True, default=str)


def candidates(study: optuna.Study, top: int) -> list[optuna.trial.FrozenTrial]:
    """The ``top`` best distinct complete trials (a multi-objective study: of its Pareto set), best first,
    then the baseline's trial if it is not among them."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    pool = study.best_trials if len(study.directions) > 1 else complete
    chosen, seen = [], set()
    for t in sorted(pool, key=score_of):
        key = _identity(t)
        if key not in seen and len(chosen) < top:
            seen.add(key)
            chosen.append(t)
    baseline = next((t for t in sorted(complete, key=lambda t: t.number) if t.user_attrs.get("baseline")), None)
    if baseline is not None and _identity(baseline) not in seen:
        chosen.append(baseline)
    return chosen


def confirm_seed(study_seed: int, number: int, replicate: int) -> int:
    return derive_seed(study_seed, CONFIRM_SALT, number, replicate)


@dataclass
class Confirmation:
    """What ``gansearch confirm`` trains (``gansearch.run.Search``'s three members)."""

    study: optuna.Study  # the study being confirmed
    top: int
    seeds: int
    steps: int
    queued = "confirm_of"

    @property
    def derive(self) -> Confirming:
        return Confirming(self.steps)

    def begin(self, companion: optuna.Study, prepared: Prepared, scorer, created: bool) -> int:
        """Queue every (architecture, seed) not yet trained; returns the trials that will then be finished."""
        if PLAN_ATTR not in companion.user_attrs:  # (confirm_study checked an earlier one's budget)
            companion.set_user_attr(PLAN_ATTR, {"source": self.study.study_name, "steps": self.steps})
        trials = companion.get_trials(deepcopy=False)
        done = {(t.user_attrs.get("confirm_of"), t.user_attrs.get("replicate")) for t in trials
                if t.state != TrialState.FAIL or str(t.user_attrs.get("failure", "")).startswith(RESULT_FAILURES)}
        seed = prepared.config.seed
        for trial in candidates(self.study, self.top):
            for replicate in range(self.seeds):
                if (trial.number, replicate) in done:
                    continue
                attrs = {"confirm_of": trial.number, "replicate": replicate,
                         "confirm_seed": confirm_seed(seed, trial.number, replicate)}
                if trial.user_attrs.get("baseline"):
                    attrs["baseline"] = trial.user_attrs["baseline"]
                companion.enqueue_trial(dict(trial.params), user_attrs=attrs, skip_if_exists=False)
        finished = companion.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        waiting = companion.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        return len(finished) + len(waiting)
