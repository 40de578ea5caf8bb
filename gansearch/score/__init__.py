"""Scores: the arithmetic (Fréchet distance, KID, k-NN precision and recall, class coverage, the
jackknife standard error), a study's scoring plan checked against the registry, the ``Scorer`` that
scores generated images against real ones (and a translator's outputs against held-out targets) on the
trial's device, and the calibration of a study's objective on degraded real data.
"""
from gansearch.score._arithmetic import frechet_distance, jackknife, kth_neighbour_radii, knn_precision, knn_recall, mmd2_unbiased, polynomial_kernel, single_threaded, sqrt_psd, statistics, class_shares, coverage, entropy, in_balls, recall_from_distances
from gansearch.score._scorer import Scorer, Plan, Column, resolve_plan, parse_column, check_extractor, check_inception_weights, build_scorer, study_options, reference_set, exact_fp32, JACKKNIFE_BLOCKS, REAL_SAMPLES, FEATURES_VERSION, INCEPTION_ENV
from gansearch.score._translate import TranslationScorer, TranslatePlan, TranslateColumn, translate_plan, scorer_for, psnr, ssim, mean_se
from gansearch.score._calibration import calibrate, Calibration, degrade, kendall_tau, INTENDED, CLASS_BASED

__all__ = ['CLASS_BASED', 'Calibration', 'Column', 'FEATURES_VERSION', 'INCEPTION_ENV', 'INTENDED', 'JACKKNIFE_BLOCKS', 'Plan', 'REAL_SAMPLES', 'Scorer', 'TranslateColumn', 'TranslatePlan', 'TranslationScorer', 'build_scorer', 'calibrate', 'check_extractor', 'check_inception_weights', 'class_shares', 'coverage', 'degrade', 'entropy', 'exact_fp32', 'frechet_distance', 'in_balls', 'jackknife', 'kendall_tau', 'knn_precision', 'knn_recall', 'kth_neighbour_radii', 'mean_se', 'mmd2_unbiased', 'parse_column', 'polynomial_kernel', 'psnr', 'recall_from_distances', 'reference_set', 'resolve_plan', 'scorer_for', 'single_threaded', 'sqrt_psd', 'ssim', 'statistics', 'study_options', 'translate_plan']
