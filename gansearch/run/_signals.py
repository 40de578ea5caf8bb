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


# A trial's time limit (``trial_timeout``). One process-wide timer is armed for the earliest deadline of the
# trials that advance; while a trial advances, it is the ``current`` one. When the timer fires: if the
# current trial is past its deadline (its step hangs: a plugin's forward that never returns), SIGALRM raises
# ``TrialTimedOut`` in it and the trial fails with that reason while its worker goes on; if it is not, the
# timer is armed again for its deadline (a trial past its own is caught when it next advances). A step costs
# no system call. Python-level hangs and sleeps are interrupted this way; a hang inside C code is not: the
# run's supervisor kills such a worker and starts another (``gansearch.run._supervisor``).
_ALARM = {"current": None, "armed_for": None, "installed": False}
STORAGE_RETRY_S = 0.05


def _timed_out(limit: float) -> TrialTimedOut:
    return TrialTimedOut(f"timed out: the trial ran longer than its limit of {limit:g} s (trial_timeout)")


def _arm(at: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(at - time.monotonic(), 0.001))
    _ALARM["armed_for"] = at


def _alarm(signum, frame):
    _ALARM["armed_for"] = None
    current = _ALARM["current"]
    if current is None:  # between steps: a trial past its deadline is caught when it next advances
        return
    deadline, limit = current
    now = time.monotonic()
    if now < deadline:  # another trial's deadline passed: wait for this one's
        _arm(deadline)
        return
    if _in_storage(frame):  # Optuna is writing the trial (a journal lock held): raised once it is done
        _arm(now + STORAGE_RETRY_S)
        return
    _ALARM["current"] = None
    raise _timed_out(limit)


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
    if time.monotonic() >= deadline:
        raise _timed_out(limit)
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not _ALARM["installed"]:
        signal.signal(signal.SIGALRM, _alarm)
        _ALARM["installed"] = True
    armed = _ALARM["armed_for"]
    if armed is None or armed > deadline:
        _arm(deadline)
    previous, _ALARM["current"] = _ALARM["current"], (deadline, limit)
    try:
        yield
    finally:
        _ALARM["current"] = previous


def trial_ended() -> None:
    """A trial is over: the timer is disarmed (a trial still running arms it again when it next advances),
    so that none is left to fire after the last trial, when the process may be exiting without our handler."""
    if _ALARM["armed_for"] is not None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _ALARM["armed_for"] = None
