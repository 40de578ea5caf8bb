"""A trial's own random numbers, so that trials sharing a process never share a random stream.

Every draw a trial's training makes (batch indices, noise, DiffAugment) comes from ``TrialRandom.generator``,
a ``torch.Generator`` on the trial's device, which a CUDA graph registers before capture so that each
replay draws fresh numbers from it. Code that takes no generator (a plugin block's dropout, an
augmentation without a ``generator`` argument) draws from the device's default generators; inside
``TrialRandom.scope()`` those point at a second per-trial state. No trial reads or advances another's
state, so several trials interleaved in one process repeat exactly, like trials run one at a time.
"""

import contextlib

import torch

from gansearch._seeds import derive_seed

IMPLICIT = 1  # derive_seed(seed, IMPLICIT): the state the default generators use inside scope()
FALLBACK = 2  # derive_seed(seed, FALLBACK): fresh generators after a failed CUDA graph capture


class TrialRandom:
    """The random state of one trial on ``device``, seeded from the trial's seed."""

    def __init__(self, seed: int, device: torch.device | str = "cpu"):
        self.seed = seed
        self.device = torch.device(device)
        self._start(seed)

    def _start(self, seed: int) -> None:
        if self.device.type == "cuda":
            torch.cuda.init()  # torch.cuda.default_generators is empty until then
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        implicit = derive_seed(seed, IMPLICIT)
        self._cpu_state = torch.Generator().manual_seed(implicit).get_state()
        self._cuda = (torch.Generator(device=self.device).manual_seed(implicit)
                      if self.device.type == "cuda" else None)

    def renew(self) -> None:
        """Fresh generators (from the seed, deterministically): a capture that failed part-way can leave
        the old ones marked as capturing, and an eager step could not draw from them."""
        self._start(derive_seed(self.seed, FALLBACK))
        self._renewed = True

    @contextlib.contextmanager
    def scope(self):
        """Within this block the default CPU generator, and the default generator of the trial's CUDA
        device, draw from this trial's implicit state; both are restored afterwards."""
        saved_cpu = default = saved_cuda = None
        self._renewed = False
        try:
            saved_cpu = torch.default_generator.get_state()
            torch.default_generator.set_state(self._cpu_state)
            if self._cuda is not None:
                default = torch.cuda.default_generators[_index(self.device)]
                saved_cuda = default.graphsafe_get_state()
                default.graphsafe_set_state(self._cuda)  # shares the state object: graph-safe, no copy
            yield self
        finally:
            if saved_cpu is not None:
                if not self._renewed:  # renew() inside the block chose the state to go on with
                    self._cpu_state = torch.default_generator.get_state()
                torch.default_generator.set_state(saved_cpu)
            if saved_cuda is not None:
                default.graphsafe_set_state(saved_cuda)


def _index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


