"""Scores: the arithmetic (Fréchet distance, KID, k-NN precision and recall, class coverage, the
jackknife standard error), a study's scoring plan checked against the registry, the ``Scorer`` that
scores generated images against real ones (and a translator's outputs against held-out targets) on the
trial's device, and the calibration of a study's objective on degraded real data.
"""
from gansearch.score._arithmetic import (
    class_shares, coverage, entropy, frechet_distance, in_balls, jackknife, knn_precision, knn_recall,
    kth_neighbour_radii, mmd2_unbiased, polynomial_kernel, recall_from_distances, single_threaded, sqrt_psd, statistics,
)
from gansearch.score._calibration import (
    CLASS_BASED, INTENDED, ORIENTATION, Calibration, calibrate, checker_pattern, degradation_scores, degrade,
    kendall_tau,
)
from gansearch.score._scorer import (
    FEATURES_VERSION, INCEPTION_ENV, JACKKNIFE_BLOCKS, REAL_SAMPLES, Column, Plan, Scorer, build_scorer,
    check_extractor, check_inception_weights, exact_fp32, parse_column, reference_set, resolve_plan, study_options,
)
from gansearch.score._translate import (
    TranslateColumn, TranslatePlan, TranslationScorer, mean_se, psnr, scorer_for, ssim, translate_plan,
)

__all__ = ['CLASS_BASED', 'Calibration', 'Column', 'FEATURES_VERSION', 'INCEPTION_ENV', 'INTENDED', 'ORIENTATION', 'JACKKNIFE_BLOCKS', 'Plan', 'REAL_SAMPLES', 'Scorer', 'TranslateColumn', 'TranslatePlan', 'TranslationScorer', 'build_scorer', 'calibrate', 'checker_pattern', 'check_extractor', 'check_inception_weights', 'class_shares', 'coverage', 'degradation_scores', 'degrade', 'entropy', 'exact_fp32', 'frechet_distance', 'in_balls', 'jackknife', 'kendall_tau', 'knn_precision', 'knn_recall', 'kth_neighbour_radii', 'mean_se', 'mmd2_unbiased', 'parse_column', 'polynomial_kernel', 'psnr', 'recall_from_distances', 'reference_set', 'resolve_plan', 'scorer_for', 'single_threaded', 'sqrt_psd', 'ssim', 'statistics', 'study_options', 'translate_plan']
