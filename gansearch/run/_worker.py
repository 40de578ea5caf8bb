"""One worker: a trial going in each of its lanes while the study needs more."""

import os
import socket
import time
import warnings

import optuna
import torch
from optuna.trial import TrialState

from gansearch.run import _progress as progress
from gansearch.run import _watchdog as watchdog
from gansearch.run._objective import Objective, fail_stale_trials
from gansearch.run._progress import FINISHED
from gansearch.run._signals import deferring_interrupts, raise_pending
from gansearch.store._artifacts import disk_full_cause
from gansearch.store._open import fail_trial, open_study
from gansearch.study._prepare import Prepared
from gansearch.train._devices import WorkerSlot
from gansearch.train._interleave import interleave, lanes_for
from gansearch.train._trainer import sync

MAX_CONSECUTIVE_FAILURES = 5


def disk_full_message(exc) -> str:
    return (f"the disk is full ({exc}); finished trials are kept: free some space and run the same command "
            "again to resume")


def _work(prepared: Prepared, slot: WorkerSlot, index: int, target: int, timeout, bar=None,
          queued: str | None = None) -> str | None:
    """One worker: keep a trial going in each of its ``slot.trials`` lanes (``gansearch.interleave``) while
    fewer than ``target`` are finished or running (anyone's); with ``queued`` (a user attribute), only
    trials queued in the study, each carrying it. Returns None when done, or why it stopped early:
    ``MAX_CONSECUTIVE_FAILURES`` failures in a row, or a full disk (no new trial starts: finished trials
    are kept, nothing more can be saved)."""
    cfg = prepared.config
    torch.set_num_threads(slot.threads)
    if slot.device != "cpu":
        torch.cuda.set_device(slot.device)  # graphs capture on the current device's streams
        torch.set_float32_matmul_precision("high")  # TF32 for the linear layers (convs use it by default)
    study = open_study(cfg, create=True, worker=index)
    device = torch.device(slot.device)
    worker = f"{socket.gethostname()}:{os.getpid()}@{slot.device}"
    objective = Objective(prepared, device, worker=worker)
    sync(device)  # the data and real features, copied on the default stream, are there before any lane reads them
    lanes = lanes_for(device, slot.trials)
    if cfg.trial_limit is not None:  # a trial hung where its alarm cannot reach ends this process
        watchdog.start(str(cfg.file) if bar is not None else None)
    state = {"failures": 0, "last_failure": None, "disk_full": None}
    deadline = None if timeout is None else time.monotonic() + timeout

    def closed(trial: optuna.trial.FrozenTrial):
        state["failures"] = 0 if trial.state in FINISHED else state["failures"] + 1
        if trial.state == TrialState.FAIL:
            state["last_failure"] = trial.user_attrs.get("failure", "see log")
            if trial.user_attrs.get("disk_full"):
                state["disk_full"] = state["last_failure"]
        if bar is not None:
            progress.show(bar, study.get_trials(deepcopy=False), trial)

    def claimed():  # finished, plus running in any worker on any machine
        return len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))

    def start(lane):
        if (state["failures"] >= MAX_CONSECUTIVE_FAILURES or state["disk_full"] is not None
                or (deadline is not None and time.monotonic() >= deadline) or claimed() >= target):
            return None
        fail_stale_trials(study)
        if queued is not None and not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            return None
        with warnings.catch_warnings():  # heartbeats are recorded here as Study.optimize would (TrialRun)
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
            trial = study.ask()  # an interrupt held meanwhile is raised in its first advance, and recorded
        if queued is not None and queued not in trial.user_attrs:  # another worker took the last queued one
            fail_trial(study, trial, "nothing left in the queue (another worker took the last queued trial)")
            return None
        tag = worker + (f"/lane-{lane.index}" if len(lanes) > 1 else "")
        return objective.start(study, trial, lane, tag, closed)

    try:
        with deferring_interrupts():
            interleave(lanes, start)
            raise_pending()  # an interrupt that came while Optuna recorded the last trial
    except Exception as exc:  # the storage itself cannot be written (Optuna may wrap that in its own error)
        cause = disk_full_cause(exc)
        if cause is None:
            raise
        state["disk_full"] = f"{type(cause).__name__}: {cause}"
    if state["disk_full"] is not None:
        return disk_full_message(state["disk_full"])
    if state["failures"] >= MAX_CONSECUTIVE_FAILURES:
        return f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed; last: {state['last_failure']}"
    return None
