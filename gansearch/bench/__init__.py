"""Benchmarks, measured in one run: gansearch's trainer against the classic DCGAN loop
(``gansearch bench``), and the search against its baseline, random search and no pruning
(``gansearch bench-search``).
"""
from gansearch.bench._trainer_bench import BenchConfig, run_bench, measure_layouts, format_report, dcgan_spec, run_trials, candidate_layouts
from gansearch.bench._search_bench import run_search_bench, SUITES, VARIANTS

__all__ = ['BenchConfig', 'SUITES', 'VARIANTS', 'candidate_layouts', 'dcgan_spec', 'format_report', 'measure_layouts', 'run_bench', 'run_search_bench', 'run_trials']
