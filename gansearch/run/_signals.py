"""Where an interrupt (Ctrl-C, SIGTERM) may land in a trial, and where it waits."""

import contextlib
import os
import signal
import threading
import time

from gansearch.errors import TrialTimedOut


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within this block (main thread only), SIGTERM raises KeyboardInterrupt, as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    deliver(signal.Signals(signum).name)


# Where a SIGTERM may land (Ctrl-C keeps Python's own handler: it must stop a run at once). Inside a
# trial's training body (``interruptible``) it is raised at once,
# and the trial records it as its failure. Between trials, while Optuna records a finished trial, it is
# held (``deferring``) and raised when that bookkeeping is done (``raise_pending``): raised there, Optuna
# would mark the trial failed without a reason, even one that had finished.
_STATE = {"deferring": False, "depth": 0, "pending": None}


def deliver(reason: str) -> None:
    if _STATE["deferring"] and _STATE["depth"] == 0:
        _STATE["pending"] = _STATE["pending"] or reason
        return
    raise KeyboardInterrupt(reason)


@contextlib.contextmanager
def deferring_interrupts():
    """While a worker runs trials: interrupts between trials wait for Optuna's bookkeeping (``deliver``)."""
    _STATE["deferring"] = True
    try:
        yield
    finally:
        _STATE["deferring"] = False
        _STATE["pending"] = None


@contextlib.contextmanager
def interruptible():
    """A trial's training body: an interrupt here is raised at once (and recorded as the trial's failure)."""
    raise_pending()
    _STATE["depth"] += 1
    try:
        yield
    finally:
        _STATE["depth"] -= 1


def raise_pending() -> None:
    """Raise an interrupt that arrived while it could not be (``deliver``)."""
    reason, _STATE["pending"] = _STATE["pending"], None
    if reason:
        raise KeyboardInterrupt(reason)


# A trial's time limit (``trial_timeout``): while a trial advances, a timer is armed for what is left of its
# limit; if the step hangs (a plugin's forward that never returns), SIGALRM raises ``TrialTimedOut`` in it,
# and the trial fails with that reason while its worker goes on. Python-level hangs and sleeps are
# interrupted this way; a hang inside C code is not: the run's supervisor kills such a worker and starts
# another (``gansearch.run._supervisor``).
_ALARM = {"limit": None, "installed": False}


def _alarm(signum, frame):
    limit = _ALARM["limit"]
    if limit is None:
        return
    if _in_storage(frame):  # Optuna is writing the trial (a journal lock held): raised once it is done
        signal.setitimer(signal.ITIMER_REAL, STORAGE_RETRY_S)
        return
    _ALARM["limit"] = None
    raise TrialTimedOut(f"timed out: the trial ran longer than its limit of {limit:g} s (trial_timeout)")


STORAGE_RETRY_S = 0.05


def _in_storage(frame) -> bool:
    """Whether ``frame`` runs inside Optuna (suggest, report, set_user_attr: storage writes and their locks)."""
    while frame is not None:
        if f"{os.sep}optuna{os.sep}" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def time_limited(deadline: float | None, limit: float | None):
    """Within this block, a trial whose ``deadline`` (``time.monotonic()``) passes raises ``TrialTimedOut``:
    at once if it has passed, else by SIGALRM when it does (main thread only; elsewhere at the next block)."""
    if deadline is None:
        yield
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise TrialTimedOut(f"timed out: the trial ran longer than its limit of {limit:g} s (trial_timeout)")
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not _ALARM["installed"]:
        signal.signal(signal.SIGALRM, _alarm)
        _ALARM["installed"] = True
    _ALARM["limit"] = limit
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _ALARM["limit"] = None
