"""Storage: opening a study's Optuna storage (a journal file by default, an RDB URL for several
machines), what must not change between runs, the run lock, each trial's files written atomically, and
getting a damaged or lost journal back into shape.
"""
from gansearch.store._open import open_study, opened_for_run, run_lock, fail_interrupted_trials, fail_trial
from gansearch.store._record import TrialRecord
from gansearch.store._storage import make_storage, storage_exists, sqlite_path
from gansearch.store._fingerprint import fingerprint, check_unchanged
from gansearch.store._artifacts import save_trial, trial_dir, trial_record, read_record, restore_trials, set_aside_old_trials, disk_full_cause
from gansearch.store._recovery import recover_storage, finish_recorded_trials
from gansearch.store._journal import repair, readable_copy, is_damaged, write_atomically

__all__ = ['TrialRecord', 'opened_for_run', 'check_unchanged', 'disk_full_cause', 'fail_interrupted_trials', 'fail_trial', 'fingerprint', 'finish_recorded_trials', 'is_damaged', 'make_storage', 'open_study', 'read_record', 'readable_copy', 'recover_storage', 'repair', 'restore_trials', 'run_lock', 'save_trial', 'set_aside_old_trials', 'sqlite_path', 'storage_exists', 'trial_dir', 'trial_record', 'write_atomically']
