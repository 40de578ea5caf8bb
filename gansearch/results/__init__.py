"""Results: the trial dataframe, the best trial and the Pareto set, rebuilding a trial's
generator, scoring any images the way the study does, and the HTML report.
"""
from gansearch.results._dataframe import best_trial, frame, load_generator, pareto_trials, ties, trials_dataframe
from gansearch.results._evaluation import evaluate, held_out_conditions
from gansearch.results._report import build_report, write_report
from gansearch.results._summaries import Best, best

__all__ = ['Best', 'best', 'best_trial', 'build_report', 'evaluate', 'frame', 'held_out_conditions', 'load_generator', 'pareto_trials', 'ties', 'trials_dataframe', 'write_report']
