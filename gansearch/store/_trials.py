"""The run lock, and trials a killed run left running."""

import contextlib
import fcntl
import time
import optuna
from optuna.trial import TrialState
from gansearch.errors import GansearchError
from gansearch.store._recovery import finish_recorded_trials


@contextlib.contextmanager
def run_lock(cfg):
    """One ``gansearch run`` per study and machine for the default journal storage, so trials left
    RUNNING by a killed run can safely be marked failed."""
    if cfg.storage is not None:  # RDB storages use heartbeats instead
        yield
        return
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.output_dir / "run.lock", "a") as lock:
        deadline = time.monotonic() + 2.0  # a reader may hold it a moment to repair the journal
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _already_running(cfg) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _already_running(cfg) -> GansearchError:
    return GansearchError(f"{cfg.file}: another `gansearch run` is running this study (lock "
                          f"{cfg.output_dir / 'run.lock'}); add workers with `workers:` instead")


def fail_interrupted_trials(study, cfg):
    """Trials still RUNNING from a run that was killed: finished after all if their ``trial.json`` says so
    (the journal's last record was lost), else failed, with the reason."""
    if cfg.storage is not None:
        return
    for t in finish_recorded_trials(study, cfg):
        fail_trial(study, t, "interrupted: the run was killed mid-trial")


def fail_trial(study, trial, reason: str) -> None:
    optuna.Trial(study, trial._trial_id).set_user_attr("failure", reason)
    study.tell(trial.number, state=TrialState.FAIL)
