"""Benchmarks, measured in one run: gansearch's trainer against the classic DCGAN loop
(``gansearch bench``), the search against its baseline, random search and no pruning
(``gansearch bench-search``), and whether the short search predicts longer training (``gansearch
bench-confirm``).
"""
from gansearch.bench._confirm_bench import run_confirm_bench
from gansearch.bench._search_bench import SUITES, VARIANTS, run_search_bench
from gansearch.bench._trainer_bench import (
    NAIVE_TRIALS, BenchConfig, BenchTrial, bench_data, bench_setup, candidate_layouts, dcgan_spec, format_report,
    gansearch_trial, measure_layouts, naive_trial, peak_flops, run_bench, run_trials, step_flops, timed_study,
)

__all__ = ['BenchConfig', 'BenchTrial', 'NAIVE_TRIALS', 'SUITES', 'VARIANTS', 'bench_data', 'bench_setup', 'candidate_layouts', 'dcgan_spec', 'format_report', 'gansearch_trial', 'measure_layouts', 'naive_trial', 'peak_flops', 'run_bench', 'run_confirm_bench', 'run_search_bench', 'run_trials', 'step_flops', 'timed_study']
