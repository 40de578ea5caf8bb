"""Several trials at once in one process: one host thread interleaves them, each in a lane of its own.

A small GAN's step leaves most of a GPU idle. Worker processes each get a CUDA context of their own and
take turns on the GPU (without MPS); the streams of one process share a context, so kernels that trials
launch on different streams can run at the same time. One host thread keeps a trial going in every lane:
it advances them in a fixed round-robin order, one step each (a captured step is a single graph launch),
and a lane may run ``depth`` steps ahead of the host before the host waits for it.

Why one thread and not a thread per trial: the order of every host operation (which trial steps,
evaluates, finishes, which new trial starts) then depends on the trials alone, never on timing, so
interleaved trials repeat exactly, like trials run one at a time; nothing needs a lock (each trial has its
own random state, ``gansearch.randomness``, its own stream and graph), and a Ctrl-C reaches the one thread
that can tell every running trial why it stopped.

A job is any object with ``advance() -> bool`` (one step; True when it is done) and ``close(exc)`` (record
how it ended: ``exc`` is None, the exception its ``advance`` raised, or the interrupt that stopped every
job). ``gansearch.runner`` interleaves Optuna trials this way, and ``gansearch bench`` bare training runs.
"""

import collections
import contextlib
import signal
import threading
from collections.abc import Callable, Iterable

import torch

DEPTH = 4  # steps a lane may run ahead of the host before the host waits for it


class Lane:
    """Where one of a process's interleaved trials runs: on CUDA a stream of its own (kept for every trial
    that runs in this lane after it: a new stream would get a cuBLAS workspace of its own, which PyTorch
    keeps), and the steps launched on it that the host has not waited for yet. On the CPU steps run as
    they are called, and a lane is only a place in the round."""

    def __init__(self, device: torch.device | str, index: int = 0, depth: int = DEPTH, stream=None):
        self.device = torch.device(device)
        self.index = index
        self.depth = max(1, depth)
        if stream is None and self.device.type == "cuda":
            stream = torch.cuda.Stream(self.device)
        self.stream = stream  # None on the CPU
        self._in_flight = collections.deque()  # events recorded after steps the host has not waited for
        self._spare: list = []  # events to record again

    @contextlib.contextmanager
    def active(self):
        """Work issued inside this block goes to the lane's stream (never the legacy default stream)."""
        if self.stream is None:
            yield self
            return
        with torch.cuda.stream(self.stream):
            yield self

    def room(self) -> None:
        """Wait until fewer than ``depth`` launched steps are unfinished on this lane."""
        while len(self._in_flight) >= self.depth:
            event = self._in_flight.popleft()
            event.synchronize()
            self._spare.append(event)

    def launched(self) -> None:
        """Mark the end of the step just launched on this lane."""
        if self.stream is not None:
            event = self._spare.pop() if self._spare else torch.cuda.Event()
            event.record(self.stream)
            self._in_flight.append(event)

    def drained(self) -> None:
        """Forget launched steps (the host waited for them another way, or the trial ended)."""
        self._spare.extend(self._in_flight)
        self._in_flight.clear()


def lanes_for(device: torch.device | str, n: int, depth: int = DEPTH) -> list[Lane]:
    return [Lane(device, i, depth) for i in range(max(1, n))]


def interleave(lanes: Iterable[Lane], start: Callable[[Lane], object | None]) -> None:
    """Keep a job going in every lane until ``start(lane)`` returns None (start no more) and every job has
    ended. Each round first starts a job in every free lane, in lane order, then advances every running
    job once, in lane order. A job whose ``advance`` raises an ``Exception`` is closed with it and the
    others go on; an interrupt (Ctrl-C, or SIGTERM raised as one) closes every running job with it, with
    further signals held until all are recorded, and is raised again. An exception from a job's ``close``
    (its storage cannot be written) stops the loop likewise."""
    lanes = list(lanes)
    running: dict[int, object] = {}
    starting = True
    try:
        while True:
            for i, lane in enumerate(lanes):
                if starting and i not in running:
                    job = start(lane)
                    if job is None:
                        starting = False
                    else:
                        running[i] = job
            if not running:
                return
            for i in sorted(running):
                job = running[i]
                try:
                    done = job.advance()
                except Exception as exc:  # noqa: BLE001 - recorded by the job; the others go on
                    lanes[i].drained()
                    job.close(exc)
                    del running[i]
                    continue
                if done:
                    lanes[i].drained()
                    job.close(None)
                    del running[i]
    except BaseException as exc:
        with signals_held() as held:  # a second Ctrl-C (a terminal's, then the run passing it on) waits
            for job in running.values():
                with contextlib.suppress(Exception):  # best effort: the interrupt is what must get through
                    job.close(exc)
        if held and not isinstance(exc, KeyboardInterrupt):
            raise KeyboardInterrupt(held[-1]) from exc
        raise


@contextlib.contextmanager
def signals_held():
    """In the main thread: Ctrl-C and SIGTERM received inside this block are only noted (their names, in
    the list it yields), so the block runs to its end. Elsewhere: nothing changes."""
    held: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    def hold(signum, frame):
        held.append("SIGTERM" if signum == signal.SIGTERM else "Ctrl-C")

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield held
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
