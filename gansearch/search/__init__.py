"""The search: the define-by-run space asked through Optuna's trial API (feasible by construction),
the DCGAN baseline fitted to a study, single- and multi-objective studies and their pruning rule, and the
study's sampler, pruner and per-trial seeds.
"""
from gansearch.search._space import SearchSpace, stride_plans, scale_plans, encode_plan
from gansearch.search._baseline import Baseline, make_baseline, dcgan_arch, BASELINES
from gansearch.search._objectives import directions, is_multi, score_of, values, should_prune_on_quality, pruning_costs, MIN_PEERS
from gansearch.search._samplers import make_sampler, make_pruner, startup_trials, trial_seed

__all__ = ['BASELINES', 'Baseline', 'MIN_PEERS', 'SearchSpace', 'dcgan_arch', 'directions', 'encode_plan', 'is_multi', 'make_baseline', 'make_pruner', 'make_sampler', 'pruning_costs', 'scale_plans', 'score_of', 'should_prune_on_quality', 'startup_trials', 'stride_plans', 'trial_seed', 'values']
