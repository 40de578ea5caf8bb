"""``gansearch bench``: gansearch's trainer against the classic DCGAN loop, measured in one run.

(a) the naive reference: eager, one trial at a time, batches from a shuffling DataLoader copied
host -> device every step, as in pytorch/examples' dcgan; (b) gansearch's trainer with its default
parallelism: device-resident data, CUDA graphs on GPU, worker processes pulling trials. Both train
the same fixed architectures for the same step budget, without scoring.
"""

import datetime
import multiprocessing as mp
import platform
import queue as queue_module
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from gansearch._seeds import seeded_cpu
from gansearch.errors import GansearchError
from gansearch.nets._builder import Discriminator, Generator, dcgan_init
from gansearch.nets._spec import ArchSpec, LayerSpec, NetSpec, TrainSpec
from gansearch.plugins._registry import load_registry
from gansearch.train._devices import WorkerSlot, host_cores, plan_workers, resolve_devices, save_layout
from gansearch.train._interleave import Lane, interleave, lanes_for
from gansearch.train._trainer import Step, Training, memory_format, sync, sync_stream


@dataclass(frozen=True)
class BenchConfig:
    device: str = "auto"
    resolution: int = 32
    width: int = 0  # base channels; 0: 32 on CUDA, 16 on CPU (the reference measurements)
    batch_size: int = 64
    steps: int = 200
    trials: int = 0  # trials in the "whole study" comparison; 0: 2 per worker
    workers: str | int = "auto"
    seed: int = 0
    precision: str = "auto"  # gansearch's side only (train.precision); the classic loop is plain PyTorch


def dcgan_spec(resolution: int, width: int, channels: int = 3) -> ArchSpec:
    """The DCGAN pair: k4 s2 deconvs from 4x4 up, k4 s2 convs down to 4x4, widths doubling towards 4x4."""
    n = (resolution // 4).bit_length() - 1
    g_layers = [LayerSpec("deconv", 4, 2, width * 2 ** (n - 2 - i) if i < n - 1 else channels,
                          "batch" if i < n - 1 else "none", "relu" if i < n - 1 else "tanh") for i in range(n)]
    d_layers = [LayerSpec("conv", 4, 2, width * 2**i, "none" if i == 0 else "batch", "lrelu") for i in range(n)]
    return ArchSpec(resolution, channels, 100,
                    NetSpec(tuple(g_layers), width * 2 ** (n - 1), 4, "batch", "relu"),
                    NetSpec(tuple(d_layers), 0, 4, "none", "lrelu"))


def _pair(spec, device, seed):
    registry = load_registry(entry_points=False)
    with seeded_cpu(seed):
        g, d = Generator(spec, registry), Discriminator(spec, registry)
        dcgan_init(g)
        dcgan_init(d)
    return g.to(device), d.to(device)


def _train_spec(cfg: BenchConfig, seed: int) -> TrainSpec:
    return TrainSpec(steps=cfg.steps, eval_every=cfg.steps, batch_size=cfg.batch_size, lr_g=2e-4, lr_d=2e-4,
                     beta1=0.5, beta2=0.999, loss="ns", d_steps=1, seed=seed, precision=cfg.precision)


def naive_trial(spec: ArchSpec, data_cpu: torch.Tensor, cfg: BenchConfig, device, seed: int) -> float:
    """The classic loop; returns seconds for ``cfg.steps`` steps, building the pair included (as for (b))."""
    sync(device)
    started = time.perf_counter()
    g, d = _pair(spec, device, seed)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(TensorDataset(data_cpu), batch_size=cfg.batch_size, shuffle=True, drop_last=True)
    step = 0
    while step < cfg.steps:
        for (real,) in loader:
            real = real.to(device)
            b = real.shape[0]
            ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
            fake = g(torch.randn(b, spec.latent_dim, device=device))
            opt_d.zero_grad()
            err_d = F.binary_cross_entropy_with_logits(d(real), ones) + \
                F.binary_cross_entropy_with_logits(d(fake.detach()), zeros)
            err_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            err_g = F.binary_cross_entropy_with_logits(d(fake), ones)
            err_g.backward()
            opt_g.step()
            step += 1
            if step == cfg.steps:
                break
    sync(device)
    return time.perf_counter() - started


NAIVE_TRIALS = 3  # the classic loop runs trials one after another: a few give its rate


class BenchTrial:
    """One of gansearch's bench trials as an interleavable job (``gansearch.interleave``): the first
    ``advance`` builds the pair and sets up its step, each later one trains a step. Its clock runs from the
    first advance until its last step has finished on the device."""

    def __init__(self, spec: ArchSpec, data: torch.Tensor, cfg: BenchConfig, seed: int, lane: Lane):
        self.spec, self.data, self.cfg, self.seed, self.lane = spec, data, cfg, seed, lane
        self.training = None
        self.notes = {}

    def advance(self) -> bool:
        with self.lane.active():
            if self.training is None:
                self.started = time.perf_counter()
                g, d = _pair(self.spec, self.data.device, self.seed)
                layout = memory_format(self.data.device)
                g, d = g.to(memory_format=layout), d.to(memory_format=layout)
                sync_stream(self.data.device)
                self.build = time.perf_counter() - self.started
                self.training = Training(g, d, self.data, _train_spec(self.cfg, self.seed), notes=self.notes,
                                         stream=self.lane.stream)
                self.training.setup()
            else:
                self.lane.room()
                self.training.step()
                self.lane.launched()
            if not self.training.finished:
                return False
            sync_stream(self.data.device)
        self.seconds = time.perf_counter() - self.started
        return True

    def close(self, exc):
        if exc is not None:
            raise exc

    def result(self) -> tuple[float, str, dict]:
        return self.seconds, self.notes["mode"], {"build": self.build, "setup": self.notes["setup_seconds"],
                                                  "train": self.notes["train_seconds"]}


def run_trials(spec: ArchSpec, data: torch.Tensor, cfg: BenchConfig, seeds: list[int], lanes: int) -> list[tuple]:
    """gansearch's trainer on one trial per seed, ``lanes`` at a time interleaved in this process; returns
    each trial's (seconds, mode, {"build": s, "setup": s, "train": s}), building the pair included."""
    pending, trials = list(seeds), []
    sync(data.device)  # the data, made on the default stream, is there before any lane reads it

    def start(lane):
        if not pending:
            return None
        trials.append(BenchTrial(spec, data, cfg, pending.pop(0), lane))
        return trials[-1]

    interleave(lanes_for(data.device, min(lanes, len(seeds)) or 1), start)
    return [t.result() for t in trials]


def gansearch_trial(spec: ArchSpec, data: torch.Tensor, cfg: BenchConfig, seed: int) -> tuple[float, str, dict]:
    """gansearch's trainer on one trial (data already on the device, in its layout), building the pair
    included; returns (seconds, mode, {"build": s, "setup": s, "train": s})."""
    return run_trials(spec, data, cfg, [seed], 1)[0]


def bench_data(cfg: BenchConfig) -> torch.Tensor:
    """The same synthetic images in every process (regenerated, not pickled through shared memory)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    return torch.rand(4096, 3, cfg.resolution, cfg.resolution, generator=gen) * 2 - 1


def _bench_worker(spec, cfg, device, threads, trials_at_once, seeds, barrier, queue):
    try:
        torch.set_num_threads(threads)
        device = torch.device(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
            torch.set_float32_matmul_precision("high")  # as gansearch's workers do
        data = bench_data(cfg).to(device).contiguous(memory_format=memory_format(device))
        warm = BenchConfig(**{**asdict(cfg), "steps": 5})
        run_trials(spec, data, warm, [0] * trials_at_once, trials_at_once)  # not timed
        sync(device)
        barrier.wait(timeout=600)  # every worker starts its clock together
        started = time.time()
        trials = run_trials(spec, data, cfg, seeds, trials_at_once)
        queue.put((started, time.time(), [t[1] for t in trials], [t[0] for t in trials],
                   [t[2]["build"] + t[2]["setup"] for t in trials], None))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent
        barrier.abort()
        queue.put((0.0, 0.0, [], [], [], f"{type(exc).__name__}: {exc}"))


def timed_study(spec, cfg: BenchConfig, slots, n_trials: int) -> tuple[float, list]:
    """gansearch's side of a whole study: ``n_trials`` trials shared out over one process per slot (each
    training ``slot.trials`` at once), all clocks started together; returns (wall seconds, per-process results)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    seeds = [list(range(i, n_trials, len(slots))) for i in range(len(slots))]
    active = [(slot, seeds[i]) for i, slot in enumerate(slots) if seeds[i]]
    barrier = ctx.Barrier(len(active))
    procs = [ctx.Process(target=_bench_worker, args=(spec, cfg, slot.device, slot.threads, min(slot.trials, len(s)),
                                                     s, barrier, queue))
             for slot, s in active]
    for p in procs:
        p.start()
    results = []
    while len(results) < len(procs):
        try:
            results.append(queue.get(timeout=5))
        except queue_module.Empty:
            if not any(p.is_alive() for p in procs):
                raise GansearchError("a benchmark worker died without a result") from None
    for p in procs:
        p.join()
    errors = [r[5] for r in results if r[5]]
    if errors:
        raise GansearchError(f"benchmark worker failed: {errors[0]}")
    return max(r[1] for r in results) - min(r[0] for r in results), results


def candidate_layouts(device: torch.device) -> list[tuple[int, int]]:
    """(worker processes, trials per worker) to try: never more processes than host cores. On the CPU a
    worker's interleaved trials take turns, so only processes can add speed there."""
    cores = host_cores()
    if device.type != "cuda":
        return [(p, t) for p, t in dict.fromkeys(((cores, 1), (1, cores), (max(cores // 2, 1), 2)))
                if p * t <= cores] or [(1, 1)]
    grid = [(1, 1), (1, 4), (1, 8), (2, 4), (4, 2), (8, 1)]
    return [(p, t) for p, t in grid if p <= cores] or [(1, 1)]


def bench_setup(cfg: BenchConfig) -> tuple[torch.device, int, ArchSpec]:
    """The bench's device, base width (32 on CUDA, 16 on CPU unless given) and DCGAN pair; TF32 on CUDA."""
    device = torch.device(resolve_devices(cfg.device)[0])
    width = cfg.width or (32 if device.type == "cuda" else 16)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    return device, width, dcgan_spec(cfg.resolution, width)


def measure_layouts(cfg: BenchConfig, progress=print, partial=None) -> dict:
    """gansearch's study throughput for each candidate layout on ``cfg.device``; the fastest so far is kept
    after each one for ``workers: auto`` / ``trials_per_worker: auto`` on this kind of device
    (``devices.save_layout``), and ``partial(result so far)`` is called, so a run cut short keeps them."""
    device, width, spec = bench_setup(cfg)
    layouts = candidate_layouts(device)
    progress(f"device {device}: timing {len(layouts)} layouts (worker processes x trials per worker), "
             f"{cfg.steps} steps, batch {cfg.batch_size}, {cfg.resolution}x{cfg.resolution}, width {width}")
    measured, failed, path = [], [], None
    for workers, trials in layouts:
        n_trials = cfg.trials or 2 * workers * trials
        slots = [WorkerSlot(str(device), max(host_cores() // workers, 1) if device.type == "cpu" else 1,
                            trials)] * workers
        try:
            seconds, _ = timed_study(spec, cfg, slots, n_trials)
        except GansearchError as exc:  # one layout that fails (out of memory, say) leaves the others to compare
            failed.append({"workers": workers, "trials_per_worker": trials, "error": str(exc)})
            progress(f"  {workers:>2} process(es) x {trials} trial(s) at once: failed ({exc})")
            continue
        img_s = n_trials * cfg.steps * cfg.batch_size / seconds
        measured.append({"workers": workers, "trials_per_worker": trials, "trials": n_trials, "img_s": img_s})
        progress(f"  {workers:>2} process(es) x {trials} trial(s) at once: {img_s:,.0f} img/s")
        path = save_layout(str(device), measured, {**asdict(cfg), "width": width})  # the best so far, kept if cut short
        if partial is not None:
            partial({"device": str(device), "measured": measured, "failed": failed,
                     "best": max(measured, key=lambda m: m["img_s"]), "file": str(path), "complete": False})
    if not measured:
        raise GansearchError(f"every layout failed; the first: {failed[0]['error']}")
    best = max(measured, key=lambda m: m["img_s"])
    progress(f"fastest: {best['workers']} x {best['trials_per_worker']}; `workers: auto` and "
             f"`trials_per_worker: auto` use it on this kind of device from now on ({path})")
    return {"device": str(device), "measured": measured, "failed": failed, "best": best, "file": str(path),
            "complete": True}


def step_flops(spec: ArchSpec, cfg: BenchConfig, device) -> float:
    """FLOPs of one training step (D and G forward and backward), counted by PyTorch."""
    g, d = _pair(spec, device, 0)
    data = torch.zeros(cfg.batch_size, spec.channels, spec.resolution, spec.resolution, device=device)
    step = Step(g, d, data, _train_spec(cfg, 0))
    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def peak_flops(device) -> tuple[float, str]:
    """Measured peak of this device in the same run: a large matmul (bf16 on CUDA, fp32 on CPU)."""
    if device.type == "cuda":
        n, dtype, what = 8192, torch.bfloat16, "bf16 matmul"
    else:
        n, dtype, what = 1024, torch.float32, "fp32 matmul, all cores"
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps, started = 0, time.perf_counter()
    while reps < 5 or time.perf_counter() - started < 0.5:
        a @ b
        reps += 1
        if reps % 5 == 0:
            sync(device)
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - started), what


def run_bench(cfg: BenchConfig, progress=print) -> dict:
    device, width, spec = bench_setup(cfg)
    data_cpu = bench_data(cfg)
    slots = [s for s in plan_workers([str(device)], cfg.workers)]
    n_trials = cfg.trials or 2 * sum(s.trials for s in slots)  # two per trial trained at once
    images_per_trial = cfg.steps * cfg.batch_size
    flops = step_flops(spec, cfg, device)
    peak, peak_what = peak_flops(device)

    progress(f"device {device}, {len(slots)} gansearch worker(s), {n_trials} trials x {cfg.steps} steps, "
             f"batch {cfg.batch_size}, {cfg.resolution}x{cfg.resolution}, width {width}")
    naive_trial(spec, data_cpu, BenchConfig(**{**asdict(cfg), "steps": 5}), device, 0)  # warm-up, not timed
    naive_times = []
    naive_n = min(n_trials, NAIVE_TRIALS)
    for i in range(naive_n):  # one trial after another: its study rate is its per-trial rate
        naive_times.append(naive_trial(spec, data_cpu, cfg, device, i))
        progress(f"  (a) naive trial {i + 1}/{naive_n}: {images_per_trial / naive_times[-1]:,.0f} img/s")
    data = data_cpu.to(device).contiguous(memory_format=memory_format(device))
    gansearch_trial(spec, data, BenchConfig(**{**asdict(cfg), "steps": 5}), 0)  # warm-up
    single, mode, parts = gansearch_trial(spec, data, cfg, 0)
    progress(f"  (b) gansearch single trial ({mode}): {images_per_trial / single:,.0f} img/s; build "
             f"{parts['build']:.3f} s, warm-up and capture {parts['setup']:.3f} s, training {parts['train']:.3f} s")

    study_seconds, results = timed_study(spec, cfg, slots, n_trials)
    modes = sorted({m for r in results for m in r[2]})

    naive_single = sorted(naive_times)[len(naive_times) // 2]  # the median trial
    naive_study = naive_single * n_trials  # sequential: n_trials times one trial
    trial_seconds = [s for r in results for s in r[3]]
    setup_seconds = [s for r in results for s in r[4]]
    out = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "host_cores": host_cores(),
        "torch": torch.__version__,
        "config": {**asdict(cfg), "width": width, "trials": n_trials, "workers": len(results),
                   "trials_per_worker": slots[0].trials},
        "step_gflop": flops / 1e9,
        "peak_tflops": peak / 1e12,
        "peak_measured_with": peak_what,
        "naive": {"single_img_s": images_per_trial / naive_single, "study_img_s": n_trials * images_per_trial / naive_study,
                  "study_seconds": naive_study, "timed_trials": len(naive_times)},
        "gansearch": {"single_img_s": images_per_trial / single, "single_mode": mode,
                      "single_seconds": {"total": single, **parts},
                      "study_img_s": n_trials * images_per_trial / study_seconds, "study_seconds": study_seconds,
                      "study_setup_share": sum(setup_seconds) / sum(trial_seconds) if trial_seconds else None,
                      "modes": modes},
    }
    for who in ("naive", "gansearch"):
        r = out[who]
        r["trials_per_hour"] = n_trials * 3600 / r["study_seconds"]
        r["study_tflops"] = r["study_img_s"] / cfg.batch_size * flops / 1e12
        r["study_fraction_of_peak"] = r["study_tflops"] * 1e12 / peak
    out["ratio_single"] = out["gansearch"]["single_img_s"] / out["naive"]["single_img_s"]
    out["ratio_study"] = out["gansearch"]["study_img_s"] / out["naive"]["study_img_s"]
    return out


def format_report(r: dict) -> str:
    n, g = r["naive"], r["gansearch"]
    lines = [
        f"{r['device']} ({r['host_cores']} host cores), torch {r['torch']}, {r['date']}",
        f"one step: {r['step_gflop']:.3f} GFLOP; measured peak {r['peak_tflops']:.2f} TFLOP/s ({r['peak_measured_with']})",
        f"{'':28}{'classic (a)':>14}{'gansearch (b)':>16}{'b/a':>8}",
        f"{'single trial, img/s':28}{n['single_img_s']:>14,.0f}{g['single_img_s']:>16,.0f}{r['ratio_single']:>7.2f}x",
        f"{'whole study, img/s':28}{n['study_img_s']:>14,.0f}{g['study_img_s']:>16,.0f}{r['ratio_study']:>7.2f}x",
        f"{'whole study, trials/hour':28}{n['trials_per_hour']:>14,.0f}{g['trials_per_hour']:>16,.0f}",
        f"{'whole study, TFLOP/s':28}{n['study_tflops']:>14.3f}{g['study_tflops']:>16.3f}",
        f"{'  fraction of peak':28}{n['study_fraction_of_peak']:>14.1%}{g['study_fraction_of_peak']:>16.1%}",
        f"gansearch step modes: {', '.join(g['modes'])}; precision: {r['config'].get('precision', 'auto')}; "
        f"workers: {r['config']['workers']}",
        f"(a) timed on {n['timed_trials']} trial(s) run one after another; its whole-study figure is that per-trial "
        f"rate ({r['config']['trials']} trials would take {n['study_seconds']:.1f} s)",
        f"(b) one trial: {g['single_seconds']['total']:.3f} s = build {g['single_seconds']['build']:.3f} + warm-up "
        f"and capture {g['single_seconds']['setup']:.3f} + training {g['single_seconds']['train']:.3f}; "
        + (f"setup is {g['study_setup_share']:.1%} of a trial's wall time in the study"
           if g.get("study_setup_share") is not None else ""),
    ]
    return "\n".join(lines)
