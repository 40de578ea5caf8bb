"""Where a run's wall time goes, phase by phase: ``gansearch run --timings FILE`` writes it as JSON.

The first phase is the process's life before the run began (the interpreter, importing torch and
gansearch), read from ``/proc`` on Linux; each later phase lasts from the previous mark to its own.
"""

import json
import os
import threading
import time
from pathlib import Path


def process_age() -> float | None:
    """Seconds since this process started (Linux, to 10 ms), or None where /proc cannot tell."""
    try:
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class Timeline:
    """Named phases of a run, each with its seconds and whatever else is worth knowing about it."""

    def __init__(self):
        age = process_age()
        self.last = time.time()
        self.phases: list[dict] = []
        if age is not None:
            self.phases.append({"phase": "start: interpreter, torch and gansearch imports", "seconds": round(age, 3),
                                "ended": round(self.last, 3)})

    def mark(self, phase: str, **info) -> None:
        """The phase that just ended (from the previous mark to now)."""
        now = time.time()
        self.phases.append({"phase": phase, "seconds": round(now - self.last, 3), "ended": round(now, 3), **info})
        self.last = now

    def as_dict(self) -> dict:
        return {"total_s": round(sum(p["seconds"] for p in self.phases), 3), "phases": self.phases}

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.as_dict(), indent=1) + "\n")


class Untimed:
    """A timeline that keeps nothing (a run without ``--timings``)."""

    def mark(self, phase: str, **info) -> None:
        pass


def warm_cuda(devices: list[str]) -> threading.Thread | None:
    """Start creating the CUDA context in the background while the study is prepared on the CPU (creating
    it takes seconds, and nothing else needs the GPU meanwhile); join the thread before timing CUDA work."""
    if not any(d.startswith("cuda") for d in devices):
        return None

    def init():
        import torch

        try:
            for d in dict.fromkeys(devices):
                if d.startswith("cuda"):
                    torch.empty(1, device=d)
        except Exception:  # noqa: BLE001 - the run itself reports a CUDA device that does not work
            pass

    thread = threading.Thread(target=init, name="gansearch-cuda-init", daemon=True)
    thread.start()
    return thread
