"""Worker processes of one ``gansearch run``: started, watched, replaced, and never left behind.

- A worker dies with its run: on Linux the kernel sends it SIGTERM when the run's process ends (even by
  SIGKILL); elsewhere a thread notices the new parent. SIGTERM is handled like Ctrl-C, so the trial it was
  training is recorded as failed and the worker exits.
- Ctrl-C or SIGTERM to the run alone is passed on to the workers, which get a few seconds to record their
  trials before they are killed.
- A worker killed from outside (SIGKILL, the out-of-memory killer) is reported as killed; its trial is
  failed with that reason and queued again, and a new worker takes its place.
"""

import contextlib
import ctypes
import datetime
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import warnings

import optuna
from optuna.trial import TrialState

from gansearch.errors import GansearchWarning
from gansearch.run import _progress as progress
from gansearch.run._signals import deliver
from gansearch.run._watchdog import stuck_after

INTERRUPTED = "interrupted"  # a worker's result when Ctrl-C or SIGTERM stopped it
STOP_GRACE_S = 3.0  # how long workers get to record their trials after Ctrl-C / SIGTERM
MAX_RESTARTS = 3  # replacements per worker slot for workers killed from outside
STUCK_AFTER_WATCHDOG_S = 5.0  # how long after its own watchdog (``_watchdog``) a stuck worker is killed
PR_SET_PDEATHSIG = 1
KEPT_ON_RERUN = ("baseline", "confirm_of", "replicate", "confirm_seed")  # what a queued trial is, kept when requeued


_PARENT = None  # in a worker: the pid of its run


def _worker_interrupt(signum, frame):
    """SIGTERM in a worker: from its run (passing on a SIGTERM), or from the kernel as the run died (the
    new parent may take a moment to show)."""
    for _ in range(10):
        if _PARENT is not None and os.getppid() != _PARENT:
            deliver("the run was killed")
            return
        time.sleep(0.01)
    deliver(signal.Signals(signum).name)


def die_with_parent(parent: int) -> None:
    """Ask for SIGTERM when ``parent`` ends (Linux), or watch for it from a thread (elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) == 0:
            if os.getppid() != parent:  # it ended before we asked
                os.kill(os.getpid(), signal.SIGTERM)
            return
    except (OSError, AttributeError, TypeError):  # not Linux (Windows: no CDLL(None))
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="gansearch-parent-watch").start()


def _worker_main(path, entry_points, slot, index, target, timeout, verbose, queue, parent, derive=None, queued=None):
    """Entry point of a worker process (spawned: safe with CUDA and with torch's thread pools)."""
    global _PARENT
    _PARENT = parent
    signal.signal(signal.SIGTERM, _worker_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`cmd &`)
    die_with_parent(parent)
    warnings.simplefilter("ignore", GansearchWarning)  # the run said them once already
    from gansearch.run._worker import _work
    from gansearch.study._prepare import prepare

    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    try:
        prepared = prepare(path, entry_points=entry_points)
        if derive is not None:  # what this run trains (a confirmation's trials, say) from the study file's
            prepared = derive(prepared)
        queue.put((index, _work(prepared, slot, index, target, timeout, queued=queued)))
    except KeyboardInterrupt:
        queue.put((index, INTERRUPTED))
    except BaseException as exc:  # noqa: BLE001 - reported by the supervisor, one line
        queue.put((index, f"worker {index} on {slot.device} stopped: {type(exc).__name__}: {exc}"))


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def supervise(path, entry_points, cfg, slots, target, bar, verbose, derive=None, queued=None) -> str | None:
    """Start one process per worker slot, show progress from the storage, replace killed workers, and
    wait for them. Returns None, or why the run stopped early. ``derive`` and ``queued``: see
    ``gansearch.run.Search``."""
    from gansearch.store._open import fail_trial, open_study

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()

    def start(i):
        proc = ctx.Process(target=_worker_main, args=(str(path), entry_points, slots[i], i, target, cfg.timeout,
                                                      verbose, queue, os.getpid(), derive, queued), daemon=False)
        proc.start()
        return proc

    study = open_study(cfg, create=False, recover=False)  # this run holds the lock and recovered the storage
    procs = []
    restarts = [0] * len(slots)
    seen_failed = set()
    stuck_pids = {}  # workers killed for a trial stuck past its time limit
    results = {}
    tag = f"{socket.gethostname()}:"
    try:
        procs = [start(i) for i in range(len(slots))]
        while len(results) < len(procs):
            while not queue.empty():
                index, result = queue.get()
                results[index] = result
            for i, proc in enumerate(procs):
                if i in results or proc.is_alive() or not queue.empty():
                    continue
                proc.join()
                why = describe_exit(proc.exitcode)
                for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                    if t.user_attrs.get("worker", "").startswith(f"{tag}{proc.pid}@"):
                        fail_trial(study, t, f"its worker was {why} mid-trial; the trial is queued again")
                        keep = {k: t.user_attrs[k] for k in KEPT_ON_RERUN if k in t.user_attrs}
                        study.enqueue_trial(t.params, user_attrs={**keep, "rerun_of": t.number})
                        seen_failed.add(t.number)
                        bar.write(f"trial {t.number} failed: worker {i} was {why}; the trial is queued again")
                if proc.pid in stuck_pids:  # killed by stuck(), which said so: replaced, not counted
                    procs[i] = start(i)
                elif restarts[i] < MAX_RESTARTS:
                    restarts[i] += 1
                    bar.write(f"worker {i} was {why}; a new worker takes its place")
                    procs[i] = start(i)
                else:
                    results[i] = f"worker {i} was {why} {restarts[i] + 1} times"
            trials = study.get_trials(deepcopy=False)
            replaced = stuck(study, trials, procs, cfg.trial_limit, tag, bar)
            seen_failed.update(replaced.values())
            stuck_pids.update(replaced)
            progress.show(bar, trials)
            for t in trials:
                if t.state == TrialState.FAIL and t.number not in seen_failed:
                    seen_failed.add(t.number)
                    bar.write(f"trial {t.number} failed: {t.user_attrs.get('failure', 'see log')}")
            time.sleep(0.5)
        progress.show(bar, study.get_trials(deepcopy=False))
    except BaseException as exc:  # Ctrl-C (the workers may have had it too) or SIGTERM: pass it on, briefly
        term = isinstance(exc, KeyboardInterrupt) and exc.args == ("SIGTERM",)
        stop(procs, sig=signal.SIGTERM if term else signal.SIGINT)
        if cfg.storage is None:  # the journal is this run's alone: nothing else is running these trials
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                fail_trial(study, t, "interrupted: the run was stopped mid-trial")
        raise
    for proc in procs:  # every worker has reported: let them exit
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
    if INTERRUPTED in results.values():  # Ctrl-C reached the workers but not this process (started with `&`)
        raise KeyboardInterrupt
    errors = [r for r in results.values() if r]
    return errors[0] if errors else None


def stuck(study, trials, procs, limit, tag, bar) -> dict[int, int]:
    """Trials still running a while after their worker's own watchdog should have ended it (hung inside C
    code holding the interpreter lock, where neither its alarm nor its watchdog thread runs): failed with
    the reason, and their workers killed, to be replaced. Returns {pid killed: trial}."""
    if limit is None:
        return {}
    from gansearch.store._open import fail_trial

    now = datetime.datetime.now()
    pids = [p.pid for p in procs if p.is_alive()]
    killed = {}
    for t in trials:
        if t.state != TrialState.RUNNING or t.datetime_start is None:
            continue
        if (now - t.datetime_start).total_seconds() < stuck_after(limit) + STUCK_AFTER_WATCHDOG_S:
            continue
        owner = t.user_attrs.get("worker", "")
        pid = next((p for p in pids if owner.startswith(f"{tag}{p}@")), None)
        if pid is None or pid in killed:
            continue
        try:
            fail_trial(study, t, f"timed out: the trial ran longer than its limit of {limit:g} s (trial_timeout) "
                                 "and could not be interrupted; its worker was replaced")
        except Exception:  # noqa: BLE001 - it finished meanwhile: nothing is stuck
            continue
        bar.write(f"trial {t.number} failed: stuck past its time limit of {limit:g} s; its worker is replaced")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        killed[pid] = t.number
    return killed


def stop(procs, grace: float = STOP_GRACE_S, sig=signal.SIGINT) -> None:
    """``sig`` to workers still alive after a second (a Ctrl-C in a terminal reached them already, and
    they are recording their trials), then SIGKILL to those still alive after ``grace`` seconds."""
    deadline = time.monotonic() + 1.0
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p.pid, sig)
    deadline = time.monotonic() + grace
    for p in alive:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in alive:
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
