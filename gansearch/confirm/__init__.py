"""Confirming a study's winners: its best distinct architectures and its baseline retrained from scratch,
longer and with several seeds, as a companion study (``confirm_study``), and what that says
(``confirmation``: mean ± sd per architecture, the confirmed ranking, rank correlations with bootstrap
intervals, whether the search's best stays the best).
"""
from gansearch.confirm._plan import SUFFIX, Confirmation, Confirming, candidates, companion_config, confirm_seed
from gansearch.confirm._runner import FACTOR, SEEDS, TOP, confirm_study, load_confirmation
from gansearch.confirm._statistics import (
    Confirmed, Summary, average_ranks, best_confirmed, bootstrap_interval, confirmation, kendall, seed_agreement,
    spearman, tie,
)

__all__ = ['Confirmation', 'Confirmed', 'Confirming', 'FACTOR', 'SEEDS', 'SUFFIX', 'Summary', 'TOP', 'average_ranks',
           'best_confirmed', 'bootstrap_interval', 'candidates', 'companion_config', 'confirm_seed', 'confirm_study',
           'confirmation', 'kendall', 'load_confirmation', 'seed_agreement', 'spearman', 'tie']
