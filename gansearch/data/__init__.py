"""Data beyond what dataset plugins load: a translate study's (condition, target) pairs and their
held-out split, and the sample grids people look at.
"""
from gansearch.data._images import preview_grid, sample_grid, save_samples, to_grid
from gansearch.data._pairs import (
    Pairs, condition_channels, condition_settings, condition_source, gaussian_blur, held_out_index, make_condition,
    make_pairs, preview_index,
)

__all__ = ['condition_settings', 'condition_source', 'preview_index', 'Pairs', 'condition_channels', 'gaussian_blur', 'held_out_index', 'make_condition', 'make_pairs', 'preview_grid', 'sample_grid', 'save_samples', 'to_grid']
