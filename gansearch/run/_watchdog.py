"""The last resort for a trial hung where no signal reaches it: inside C code (a CUDA synchronisation, a
plugin's extension), where the SIGALRM of its time limit (``_signals.time_limited``) cannot raise.

A thread of the worker's own looks at its running trials every half second. One still running
``STUCK_GRACE_S`` after twice its limit (twice: another interleaved trial's step may have held the host as
long as its own limit) is failed with the reason, and the process ends: a worker process is replaced by its
run's supervisor, which says so; a run training in its own process stops with one line, finished trials
kept (running the same command again resumes). A hang that holds Python's interpreter lock stops this
thread too: the supervisor of a multi-worker run still catches it (``_supervisor.stuck``).
"""

import os
import sys
import threading
import time

from gansearch.run._signals import _in_storage

STUCK_GRACE_S = 5.0  # past twice a trial's time limit, how long before the process gives up on it
EXIT_STUCK = 1  # the exit code of a process that ended for a stuck trial

_RUNNING: dict[int, tuple] = {}  # id(trial run) -> (started, limit, study, trial)
_STARTED = {"thread": None, "say": None}


def stuck_after(limit: float) -> float:
    """Seconds after a trial's start when it counts as stuck where no signal reaches it."""
    return 2 * limit + STUCK_GRACE_S


def watch(run, limit: float, study, trial) -> None:
    _RUNNING[id(run)] = (time.monotonic(), limit, study, trial)


def forget(run) -> None:
    _RUNNING.pop(id(run), None)


def start(say: str | None) -> None:
    """Start this process's watchdog once. ``say``: the study file, for the one line a run training in its
    own process prints before it stops; None in a worker process (its supervisor says it)."""
    _STARTED["say"] = say
    if _STARTED["thread"] is None:
        _STARTED["thread"] = threading.Thread(target=_watch, daemon=True, name="gansearch-trial-watchdog")
        _STARTED["thread"].start()


def _watch() -> None:
    main = threading.main_thread().ident
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        for started, limit, study, trial in list(_RUNNING.values()):
            if now - started < stuck_after(limit) or _in_storage(sys._current_frames().get(main)):
                continue
            give_up(study, trial, limit)


def give_up(study, trial, limit: float) -> None:
    from gansearch.store._open import fail_trial

    then = "its worker was replaced" if _STARTED["say"] is None else "the run stopped"
    try:
        fail_trial(study, trial, f"timed out: the trial ran longer than its limit of {limit:g} s (trial_timeout) "
                                 f"and could not be interrupted; {then}")
    except Exception:  # noqa: BLE001 - it finished meanwhile, or the storage cannot be written: end anyway
        pass
    if _STARTED["say"] is not None:
        sys.stderr.write(f"\nError: {_STARTED['say']}: the run stopped: trial {trial.number} ran past its time limit "
                         f"of {limit:g} s where it could not be interrupted (inside C code); it was failed, finished "
                         "trials are kept: run the same command again to resume\n")
        sys.stderr.flush()
    os._exit(EXIT_STUCK)
