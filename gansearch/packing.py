"""Several trials at once in one worker process (``trials_per_worker``), each in its own thread and, on
CUDA, on its own stream.

A small GAN's step leaves most of a GPU idle. Separate processes each get their own CUDA context and
take turns on the GPU (without MPS); threads of one process share one context, so the kernels of
their trials, launched on different streams, can run at the same time. Captured steps replay with one
launch each, so the GIL is held only briefly per step.

What keeps packed trials apart:

- ``SETUP_LOCK`` is held while a trial builds its pair and sets up its step (seeding, warm-up, graph
  capture): those use torch's global random generators, and a seed cannot be set while another thread
  captures. Training itself runs unlocked. Packed trials are therefore not bit-reproducible (neither
  are CUDA-graphed trials across runs).
- Each thread trains on a stream of its own, never the legacy default stream (which waits for every
  other stream), and captures on a second stream of its own; both live as long as the thread.
- Ctrl-C or SIGTERM reaches only the main thread: it sets ``stop``, and every trial thread raises
  ``KeyboardInterrupt`` at its next training step, so its trial is recorded as interrupted. The main
  thread waits for every trial to be recorded; a second Ctrl-C meanwhile (a terminal's, then the run
  passing it on to its workers) does not cut that short.
"""

import contextlib
import threading
import time
from collections.abc import Callable

import torch

SETUP_LOCK = threading.RLock()
_local = threading.local()
_stop = threading.Event()
_stop_reason = ["Ctrl-C"]
_threads = [0]  # trial threads running in this process (0: trials run in the main thread)


def packed() -> bool:
    """Are several trials training in this process right now?"""
    return _threads[0] > 1


def check_stop() -> None:
    """In a trial thread: raise ``KeyboardInterrupt`` once the main thread was interrupted."""
    if _stop.is_set():
        raise KeyboardInterrupt(_stop_reason[0])


def thread_stream(device: torch.device, role: str) -> "torch.cuda.Stream":
    """This thread's stream for ``role`` ("train" or "capture") on ``device``, created once per thread:
    a new stream gets its own cuBLAS workspace, which PyTorch keeps, so a stream per trial would grow
    memory trial after trial."""
    streams = getattr(_local, "streams", None)
    if streams is None:
        streams = _local.streams = {}
    index = device.index if device.index is not None else torch.cuda.current_device()
    key = (index, role)
    if key not in streams:
        streams[key] = torch.cuda.Stream(torch.device("cuda", index))
    return streams[key]


@contextlib.contextmanager
def trial_context(device: torch.device):
    """Where a packed trial runs: its device made current (per thread in CUDA) and its own stream."""
    if device.type != "cuda":
        yield
        return
    torch.cuda.set_device(device)
    with torch.cuda.stream(thread_stream(device, "train")):
        yield


def _begins(thread: threading.Thread, grace: float = 1.0) -> bool:
    """Does ``thread`` run? (One whose start() an interrupt cut short may be just coming up, or never.)"""
    deadline = time.monotonic() + grace
    while thread.ident is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return thread.ident is not None


def run_packed(n: int, device: torch.device, work: Callable[[int], object]) -> list:
    """Run ``work(i)`` for i in 0..n-1, each in its own thread within ``trial_context``; return their
    results, or raise the first exception one of them raised. Ctrl-C / SIGTERM in the main thread
    stops every thread at its next step, then is raised again."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # data and real features made on the default stream are ready
    results: list = [None] * n
    errors: list[BaseException] = []
    # Each thread says it is done through its own event, not through Thread.join: a KeyboardInterrupt
    # landing inside join() marks the joined thread as stopped while it still runs (CPython releases its
    # state lock), so a later join() would return before that trial was recorded.
    done = [threading.Event() for _ in range(n)]

    def body(i):
        try:
            with trial_context(device):
                results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - raised again in the main thread
            errors.append(exc)
        finally:
            done[i].set()

    def wait_all(stopping: bool = False):
        for event in done:
            while True:
                try:
                    if event.wait(0.2):  # short waits: signals are handled in the main thread between them
                        break
                except KeyboardInterrupt:  # a second one (a terminal's Ctrl-C, then the run passing it on)
                    if not stopping:
                        raise

    threads = [threading.Thread(target=body, args=(i,), name=f"gansearch-trial-{i}", daemon=True) for i in range(n)]
    _stop.clear()
    _threads[0] = n
    try:
        starting = [False] * n
        try:
            for i, t in enumerate(threads):
                starting[i] = True
                t.start()
            wait_all()
        except KeyboardInterrupt as exc:
            _stop_reason[0] = exc.args[0] if exc.args else "Ctrl-C"
            _stop.set()
            for t, event, asked in zip(threads, done, starting):
                if not asked or (t.ident is None and not _begins(t)):  # never started: it will not run
                    event.set()
            wait_all(stopping=True)  # every started trial stops at its next step and records why
            raise
    finally:
        _threads[0] = 0
        _stop.clear()  # trials trained later in this process (one at a time) must not see it
    interrupts = [e for e in errors if isinstance(e, KeyboardInterrupt)]
    if errors:
        raise (interrupts or errors)[0]
    return results
