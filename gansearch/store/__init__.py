"""Storage: opening a study's Optuna storage (a journal file by default, an RDB URL for several
machines), what must not change between runs, the run lock, each trial's files written atomically, and
getting a damaged or lost journal back into shape.
"""
from gansearch.store._artifacts import (
    disk_full_cause, read_record, restore_trials, save_trial, set_aside_old_trials, trial_dir, trial_record,
)
from gansearch.store._fingerprint import check_unchanged, fingerprint
from gansearch.store._journal import is_damaged, readable_copy, repair, write_atomically
from gansearch.store._open import fail_interrupted_trials, fail_trial, open_study, opened_for_run, run_lock
from gansearch.store._record import TrialRecord
from gansearch.store._recovery import finish_recorded_trials, recover_storage
from gansearch.store._storage import make_storage, sqlite_path, storage_exists

__all__ = ['TrialRecord', 'opened_for_run', 'check_unchanged', 'disk_full_cause', 'fail_interrupted_trials', 'fail_trial', 'fingerprint', 'finish_recorded_trials', 'is_damaged', 'make_storage', 'open_study', 'read_record', 'readable_copy', 'recover_storage', 'repair', 'restore_trials', 'run_lock', 'save_trial', 'set_aside_old_trials', 'sqlite_path', 'storage_exists', 'trial_dir', 'trial_record', 'write_atomically']
