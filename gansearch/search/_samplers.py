"""The study's Optuna sampler and pruner, and the seed each trial trains from."""

import os
import warnings

import numpy as np
import optuna

from gansearch._seeds import derive_seed
from gansearch.config._load import StudyConfig


def trial_seed(study_seed: int, number: int) -> int:
    """A per-trial seed derived from the study seed and the trial number."""
    return derive_seed(study_seed, number)


def make_sampler(config: StudyConfig, n_existing: int = 0, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler. A resumed run, and every worker but the first, reseeds it from the trials
    so far and the worker index, so no two samplers replay the same proposals. With a shared ``storage:``
    (several runs, maybe on several machines, at once) every process also mixes in a random number: runs
    never duplicate each other's trials, and such studies are not bit-for-bit reproducible.

    TPE defaults suit short studies of a conditional space: ``startup_trials(n_trials)`` random trials,
    multivariate TPE with ``group=True`` (parameters that appear together are modelled together), and
    ``constant_liar`` so parallel workers (and machines) avoid proposing what another is training."""
    seed = config.seed if n_existing == worker == 0 else derive_seed(config.seed, n_existing, worker + 1)
    if config.storage is not None:  # runs on several machines share it: every process proposes its own trials
        seed = derive_seed(seed, *np.frombuffer(os.urandom(8), dtype=np.uint32).tolist())
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if config.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # multivariate, group, constant_liar
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(config.n_trials),
                                          multivariate=True, group=True, constant_liar=True)


def startup_trials(n_trials: int) -> int:
    """Random trials before TPE models the space: a fifth of the study, between 3 and 10 (Optuna's
    default of 10 would leave a 12-trial study almost all random)."""
    return min(10, max(3, round(n_trials / 5)))


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    t = config.train
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=t.eval_every, max_resource=t.steps)
    if config.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=t.eval_every)
    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)
