"""The search: the define-by-run space asked through Optuna's trial API (feasible by construction),
the DCGAN baseline fitted to a study, single- and multi-objective studies and their pruning rule, and the
study's sampler, pruner and per-trial seeds.
"""
from gansearch.search._baseline import BASELINES, Baseline, dcgan_arch, make_baseline
from gansearch.search._objectives import (
    MIN_PEERS, directions, is_multi, pruning_costs, score_of, should_prune_on_quality, values,
)
from gansearch.search._samplers import make_pruner, make_sampler, startup_trials, trial_seed
from gansearch.search._space import SearchSpace, encode_plan, scale_plans, stride_plans

__all__ = ['BASELINES', 'Baseline', 'MIN_PEERS', 'SearchSpace', 'dcgan_arch', 'directions', 'encode_plan', 'is_multi', 'make_baseline', 'make_pruner', 'make_sampler', 'pruning_costs', 'scale_plans', 'score_of', 'should_prune_on_quality', 'startup_trials', 'stride_plans', 'trial_seed', 'values']
