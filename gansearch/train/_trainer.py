"""The shared trainer: a short GAN run on a device-resident dataset, a step at a time.

Small GANs do not fill a GPU: the time goes to launching kernels from Python. On CUDA the whole
D+G step (batch gathered by random index on the device, noise, losses, backward, Adam) is captured
once as a CUDA graph and replayed; anything that cannot be captured falls back to the same step run
eagerly, and the reason is kept. ``Training`` advances one step per call, so one host thread can
interleave several trials (``gansearch.interleave``); ``train`` runs one trial to its end. Every random
number a trial draws comes from its own ``TrialRandom``.
"""

import contextlib
import functools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from gansearch.errors import TrialDiverged
from gansearch.nets._spec import TrainSpec
from gansearch.plugins._augmentation import accepts_generator
from gansearch.train._randomness import TrialRandom

WARMUP_STEPS = 3  # eager steps before capture: optimizer state, cuDNN/cuBLAS workspaces


def d_loss(loss: str, real_logits, fake_logits):
    if loss == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()  # non-saturating


def g_loss(loss: str, fake_logits):
    if loss == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: TF32 on CUDA (tensor cores, fp32 range), plain fp32 on the CPU."""
    if precision == "auto":
        return "tf32" if device.type == "cuda" else "fp32"
    return precision


def set_matmul_precision(precision: str, device: torch.device) -> None:
    """TF32 on or off for this process's CUDA matmuls and convolutions (bf16 keeps TF32 for what runs in fp32)."""
    if device.type == "cuda":
        tf32 = precision != "fp32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CPU, where oneDNN runs small GAN convs ~1.17x faster that way (measured on
    2 cores, 32x32, width 16); the default layout on CUDA."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


class Step:
    """One training step: ``d_steps`` discriminator updates, then one generator update.

    Reads its batch from the device-resident ``data`` by random index; batch indices, noise and the
    augmentations' draws come from ``rng`` (the trial's ``torch.Generator``; None: the default one). Keeps
    the last losses as tensors (reading them would synchronise, so only ``check`` does, at evaluation time).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: torch.Tensor, spec: TrainSpec,
                 capturable: bool = False, augment: Callable[..., torch.Tensor] | None = None,
                 rng: torch.Generator | None = None):
        self.g, self.d, self.data, self.spec = generator, discriminator, data, spec
        self.rng = rng
        # translate: data holds condition and target side by side in channels; G maps one to the other
        self.cond_channels = getattr(generator, "cond_channels", 0)
        self.conditional = getattr(discriminator, "conditional", False)
        self.augment = augment  # DiffAugment-style: D's real and fake inputs alike
        self._augment_rng = augment is not None and accepts_generator(augment)
        # eager: the fused Adam kernel; in a CUDA graph: capturable Adam, its step counters on the device
        kw = dict(betas=(spec.beta1, spec.beta2), capturable=capturable, fused=not capturable)
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=spec.lr_g, **kw)
        self.opt_d = torch.optim.Adam(discriminator.parameters(), lr=spec.lr_d, **kw)
        self.loss_d = self.loss_g = None
        # bf16: forward passes and losses under autocast; weights, gradients and Adam state stay fp32.
        # No autocast weight cache: it would not survive CUDA graph capture.
        bf16 = resolve_precision(spec.precision, data.device) == "bf16"
        self.autocast = (functools.partial(torch.autocast, data.device.type, dtype=torch.bfloat16, cache_enabled=False)
                         if bf16 else contextlib.nullcontext)  # no context to enter on every fp32 step

    def inputs(self):
        """One batch: (G's input, real images, condition or None), drawn on the device."""
        spec, data, device = self.spec, self.data, self.data.device
        batch = data[torch.randint(data.shape[0], (spec.batch_size,), device=device, generator=self.rng)]
        if self.cond_channels:
            cond = batch[:, :self.cond_channels]
            return cond, batch[:, self.cond_channels:], cond
        return torch.randn(spec.batch_size, self.g.latent_dim, device=device, generator=self.rng), batch, None

    def critic(self, images, cond):
        """D's logits for images (with their condition, for a conditional D), augmented."""
        if cond is not None and self.conditional:
            images = torch.cat([cond, images], 1)  # augmented together: the same shift, cutout, colour
        if self.augment is not None:
            images = self.augment(images, generator=self.rng) if self._augment_rng else self.augment(images)
        return self.d(images)

    def __call__(self):
        spec = self.spec
        for k in range(spec.d_steps):
            source, real, cond = self.inputs()
            with self.autocast():
                with torch.set_grad_enabled(k == spec.d_steps - 1):  # the last fake batch serves the G step too
                    fake = self.g(source)
                loss_d = d_loss(spec.loss, self.critic(real, cond), self.critic(fake.detach(), cond))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        self.d.requires_grad_(False)  # the generator step needs no D weight gradients
        try:
            with self.autocast():
                loss_g = g_loss(spec.loss, self.critic(fake, cond))
                if cond is not None and spec.l1_weight:
                    loss_g = loss_g + spec.l1_weight * (fake.float() - real).abs().mean()  # pix2pix's L1 term
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        finally:
            self.d.requires_grad_(True)
        self.loss_d, self.loss_g = loss_d, loss_g

    def check(self, step: int):
        d, g = self.loss_d.item(), self.loss_g.item()
        if not (math.isfinite(d) and math.isfinite(g)):
            raise TrialDiverged(f"non-finite loss at step {step} (D {d}, G {g})")


class GraphedStep:
    """``Step`` captured as one CUDA graph on ``stream``; ``__call__`` replays it (one launch per step).

    The trial's generator is registered with the graph before capture, so every replay draws fresh
    numbers from it and advances it, and nothing else's. ``graph_class`` is a seam for tests."""

    graphed = True

    def __init__(self, step: Step, stream, graph_class=None):
        self.step = step
        self.graph = (graph_class or torch.cuda.CUDAGraph)()
        if step.rng is not None and hasattr(self.graph, "register_generator_state"):
            self.graph.register_generator_state(step.rng)
        step.opt_g.zero_grad(set_to_none=True)
        step.opt_d.zero_grad(set_to_none=True)
        pool = torch.cuda.graph_pool_handle()  # the graph's own memory pool, released if the capture fails
        # capture_begin/end rather than torch.cuda.graph(), which first synchronises the whole device, collects
        # garbage and empties the cache: that would stall every trial interleaved with this one
        with torch.cuda.stream(stream):  # restores the current stream even if the capture fails
            self.graph.capture_begin(pool=pool)
            try:
                step()
            except BaseException:
                try:  # leave capture mode; the step's error is the one to tell
                    self.graph.capture_end()
                except Exception:  # noqa: BLE001 - the capture was invalidated: PyTorch did not end its pool
                    _release_pool(stream.device, pool)
                raise
            try:
                self.graph.capture_end()
            except BaseException:
                _release_pool(stream.device, pool)
                raise

    def __call__(self):
        self.graph.replay()

    def check(self, step: int):
        self.step.check(step)


def _release_pool(device: torch.device, pool) -> None:
    """After a capture failed inside its end (cudaStreamEndCapture), PyTorch leaves the allocator routing
    allocations to the dead graph's pool: end that, and release the pool."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    for end in (torch._C._cuda_endAllocateToPool, torch._C._cuda_releasePool):
        try:
            end(index, pool)
        except (RuntimeError, AttributeError):  # already ended by PyTorch, or an older torch without it
            pass


def _reset_after_failed_capture(device: torch.device, stream) -> None:
    """A capture that failed can leave the default CUDA generator marked as capturing (older torch): a tiny
    capture that succeeds resets it. (The trial's own generators are simply renewed.)"""
    torch.cuda.synchronize(device)
    try:
        graph, x = torch.cuda.CUDAGraph(), torch.zeros(1, device=device)
        with torch.cuda.stream(stream):
            with torch.cuda.graph(graph, stream=stream):
                torch.randn(1, device=device)
                x.add_(1)
        graph.replay()
        torch.cuda.synchronize(device)
    except Exception:  # noqa: BLE001 - best effort: the fallback step reports anything still wrong
        pass


@dataclass
class TrainResult:
    score: float
    steps: int
    history: list[tuple[int, float]] = field(default_factory=list)  # (step, score)
    mode: str = "eager"  # "eager" or "cuda_graph"
    fallback: str | None = None  # why a CUDA graph was not used, when one was asked for
    score_seconds: float = 0.0  # wall time spent scoring
    setup_seconds: float = 0.0  # optimizers, warm-up steps and CUDA graph capture
    train_seconds: float = 0.0  # the training steps after setup, scoring excluded


def make_step(generator, discriminator, data, spec: TrainSpec, notes: dict, augment=None,
              rng: TrialRandom | None = None, stream=None):
    """The step to run and how many steps it already ran: graphed on CUDA when asked and capturable
    (after a few eager warm-up steps on ``stream``, which count as training), else eager. Call it within
    ``rng.scope()``: the warm-up may draw from the default generators."""
    warmup = min(WARMUP_STEPS, spec.steps - 1, spec.eval_every - 1)  # no evaluation falls in the warm-up
    on_cuda = spec.cuda_graphs and data.device.type == "cuda"
    notes["mode"] = "eager"
    own = rng.generator if rng is not None else None
    if on_cuda and warmup < 1:
        notes["fallback"] = "steps or eval_every too small to warm up before capture"
    if not on_cuda or warmup < 1:
        return Step(generator, discriminator, data, spec, augment=augment, rng=own), 0
    device = data.device
    step = Step(generator, discriminator, data, spec, capturable=True, augment=augment, rng=own)
    side = stream if stream is not None else capture_stream(device)  # never the legacy default stream
    side.wait_stream(torch.cuda.current_stream(device))
    done = 0
    torch.cuda.set_sync_debug_mode("error")  # a host sync (e.g. .item() in a block) fails here, not mid-capture
    try:
        with torch.cuda.stream(side):
            for _ in range(warmup):
                step()
                done += 1
    except RuntimeError as exc:
        notes["fallback"] = f"warm-up: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    finally:
        torch.cuda.set_sync_debug_mode(0)
        torch.cuda.current_stream(device).wait_stream(side)
    if "fallback" not in notes:
        try:
            graphed = GraphedStep(step, side)
            torch.cuda.current_stream(device).wait_stream(side)  # replays on the current stream follow the capture
            notes["mode"] = "cuda_graph"
            return graphed, done
        except Exception as exc:  # noqa: BLE001 - anything else a block does that cannot be captured
            cause = exc.__context__ or exc
            notes["fallback"] = f"capture: {type(cause).__name__}: {(str(cause).splitlines() or [''])[0]}"
            exc.__traceback__ = cause.__traceback__ = None  # no cycle keeps the failed graph alive
            _reset_after_failed_capture(device, side)
            if rng is not None:
                rng.renew()
                step.rng = rng.generator
    return step, done


class Training:
    """One trial's training, a step at a time, so that one host thread can interleave several trials.

    ``setup()`` makes the optimizers and, on CUDA, warms up and captures the step as a graph; each
    ``step()`` then runs (or replays) one training step. After a step, ``due`` says an evaluation is due
    (every ``eval_every`` steps and at the last): ``check()`` the losses, then score the generator.
    ``data`` is (N, C, H, W) in [-1, 1], already on the device. ``notes`` (a dict) receives ``mode``,
    ``fallback``, ``precision``, ``setup_seconds`` and ``train_seconds`` as soon as they are known, so they
    survive a pruned or failed trial. ``train_seconds`` is this trial's own host time in its steps and in
    waiting for them at each check (interleaved trials' steps are not counted).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: torch.Tensor, spec: TrainSpec,
                 augment: Callable[..., torch.Tensor] | None = None, rng: TrialRandom | None = None,
                 notes: dict | None = None, stream=None):
        self.g, self.d, self.data, self.spec, self.augment = generator, discriminator, data, spec, augment
        self.rng = rng if rng is not None else TrialRandom(spec.seed, data.device)
        self.notes = {} if notes is None else notes
        self.stream = stream
        self.run_step = None
        self.done = 0  # steps run so far
        self.notes.setdefault("train_seconds", 0.0)

    def setup(self) -> None:
        device = self.data.device
        self.notes["precision"] = resolve_precision(self.spec.precision, device)
        set_matmul_precision(self.notes["precision"], device)
        started = time.perf_counter()
        with self.rng.scope():
            self.run_step, self.done = make_step(self.g, self.d, self.data, self.spec, self.notes, self.augment,
                                                 self.rng, self.stream)
        sync_stream(device)
        self.notes["setup_seconds"] = time.perf_counter() - started

    @property
    def graphed(self) -> bool:
        return getattr(self.run_step, "graphed", False)

    @property
    def finished(self) -> bool:
        return self.done >= self.spec.steps

    @property
    def due(self) -> bool:
        """Is an evaluation due after the step just run?"""
        return self.done > 0 and (self.done % self.spec.eval_every == 0 or self.done == self.spec.steps)

    def step(self) -> None:
        started = time.perf_counter()
        if self.graphed:
            self.run_step()  # a replay draws from the generators registered with the graph
        else:
            with self.rng.scope():
                self.run_step()
        self.done += 1
        self.notes["train_seconds"] += time.perf_counter() - started

    def check(self) -> None:
        """Wait for the steps so far and raise ``TrialDiverged`` on a non-finite loss."""
        started = time.perf_counter()
        try:
            self.run_step.check(self.done)
        finally:
            self.notes["train_seconds"] += time.perf_counter() - started


def train(generator: nn.Module, discriminator: nn.Module, data: torch.Tensor, spec: TrainSpec,
          score: Callable[[nn.Module], float], on_eval: Callable[[int, float], None] | None = None,
          notes: dict | None = None, augment: Callable[..., torch.Tensor] | None = None,
          rng: TrialRandom | None = None) -> TrainResult:
    """Train for ``spec.steps`` steps, one trial on its own (``Training`` is the step-wise form).

    Every ``eval_every`` steps (and at the end) the generator is scored and ``on_eval(step, score)``
    is called; it may raise ``optuna.TrialPruned`` to stop early. A non-finite loss or score raises
    ``TrialDiverged``. ``notes`` receives ``score_seconds`` besides what ``Training`` puts there.
    """
    notes = {} if notes is None else notes
    notes["score_seconds"] = 0.0
    training = Training(generator, discriminator, data, spec, augment, rng, notes)
    training.setup()
    history = []
    while not training.finished:
        training.step()
        if training.due:
            training.check()  # reads the losses: waits for the device
            scored = time.perf_counter()
            value = score(generator)
            notes["score_seconds"] += time.perf_counter() - scored
            if not math.isfinite(value):
                raise TrialDiverged(f"non-finite score at step {training.done}")
            history.append((training.done, value))
            if on_eval is not None:
                on_eval(training.done, value)
    return TrainResult(history[-1][1], spec.steps, history, notes["mode"], notes.get("fallback"),
                       notes["score_seconds"], notes["setup_seconds"], notes["train_seconds"])


_capture_streams = threading.local()


def capture_stream(device: torch.device) -> "torch.cuda.Stream":
    """This thread's side stream for warm-up and capture on ``device``, made once and kept (streams come
    from PyTorch's small pool, and each keeps a cuBLAS workspace)."""
    streams = _capture_streams.__dict__.setdefault("by_device", {})
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index not in streams:
        streams[index] = torch.cuda.Stream(torch.device("cuda", index))
    return streams[index]


def sync_stream(device: torch.device) -> None:
    """Wait for the current stream only (other interleaved trials' streams keep running)."""
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()


def sync(device: torch.device) -> None:
    """Wait for the device (CUDA); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
