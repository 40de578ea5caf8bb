"""The CUDA paths: graph capture, its fallback, several workers and interleaved trials on one GPU, per-trial
random state, no memory leak. Each test takes the ``device`` fixture: CUDA on the GPU machine; the CPU suite
runs the same tests on the CPU (see conftest.py), up to ``needs_cuda`` where a test needs the GPU itself."""

from pathlib import Path

import pytest
import torch

import gansearch
from gansearch.bench import BenchConfig, dcgan_spec, run_trials
from gansearch.bench._trainer_bench import _pair, _train_spec
from gansearch.plugins import load_registry
from gansearch.run import _progress as progress
from gansearch.run import run_study
from gansearch.study import prepare
from gansearch.train import Step, Training, TrialRandom, interleave, lanes_for, make_step, sync, train

from conftest import needs_cuda

STUDIES = Path(__file__).parents[1] / "studies"


@pytest.fixture
def deterministic(monkeypatch):
    """cuDNN's deterministic kernels: the same inputs give the same bits, run after run."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)


def test_graphed_and_eager_training_from_one_seed_agree(device, deterministic):
    spec = dcgan_spec(32, 32)
    data = torch.rand(1024, 3, 32, 32, device=device) * 2 - 1
    tspec = _train_spec(BenchConfig(steps=10), seed=7)
    needs_cuda(device, "compares a CUDA graph's replays with the same step run eagerly")
    g1, d1 = _pair(spec, device, 0)
    graphed_rng = TrialRandom(tspec.seed, device)
    result = train(g1, d1, data, tspec, score=lambda g: 0.0, rng=graphed_rng)
    assert result.mode == "cuda_graph", result.fallback
    g2, d2 = _pair(spec, device, 0)
    eager_rng = TrialRandom(tspec.seed, device)
    eager = Step(g2, d2, data, tspec, capturable=True, rng=eager_rng.generator)  # the same arithmetic, eagerly
    with eager_rng.scope():
        for _ in range(tspec.steps):
            eager()
    torch.cuda.synchronize()
    assert torch.equal(graphed_rng.generator.get_state(), eager_rng.generator.get_state()), \
        "replays consumed the trial's random numbers differently"
    for (name, a), b in zip([*g1.state_dict().items(), *d1.state_dict().items()],
                            [*g2.state_dict().values(), *d2.state_dict().values()]):
        a, b = a.float(), b.float()
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), f"{name}: max diff {(a - b).abs().max().item():.3g}"


def test_graph_replays_draw_fresh_batches_and_noise(device):
    spec = dcgan_spec(32, 32)
    data = torch.rand(1024, 3, 32, 32, device=device) * 2 - 1
    g, d = _pair(spec, device, 0)
    notes = {}
    rng = TrialRandom(0, device)
    with rng.scope():
        step, _ = make_step(g, d, data, _train_spec(BenchConfig(steps=50), 0), notes, rng=rng)
    needs_cuda(device, "a CUDA graph's replays")
    assert notes["mode"] == "cuda_graph"
    losses = set()
    for _ in range(5):
        step()
        losses.add(round(step.step.loss_d.item(), 6))
    assert len(losses) == 5


def test_interleaved_graphed_trials_equal_the_same_trials_one_at_a_time(device, deterministic):
    """Trials with DiffAugment, interleaved on their own streams: no trial touches another's random state
    (the bench's first packed layout crashed with "Offset increment outside graph capture")."""
    from gansearch.plugins import make_policy

    policy = make_policy("color,translation,cutout", load_registry(entry_points=False))
    spec, seeds = dcgan_spec(32, 16), [1, 2, 3, 4]
    data = torch.rand(512, 3, 32, 32, device=device) * 2 - 1
    tspec = lambda seed: _train_spec(BenchConfig(steps=12, batch_size=16), seed)  # noqa: E731
    alone = []
    for seed in seeds:
        g, d = _pair(spec, device, seed)
        train(g, d, data, tspec(seed), lambda g: 0.0, augment=policy, rng=TrialRandom(seed, device))
        alone.append(g.state_dict())
    pairs = [_pair(spec, device, seed) for seed in seeds]
    trainings = []

    class Job:
        def __init__(self, lane, g, d, seed):
            self.lane = lane
            with lane.active():
                self.training = Training(g, d, data, tspec(seed), policy, TrialRandom(seed, device),
                                         stream=lane.stream)
                self.training.setup()
            trainings.append(self.training)

        def advance(self):
            with self.lane.active():
                self.lane.room()
                self.training.step()
                self.lane.launched()
            return self.training.finished

        def close(self, exc):
            if exc is not None:
                raise exc

    todo = list(zip(seeds, pairs))

    def start(lane):
        if not todo:
            return None
        seed, (g, d) = todo.pop(0)
        return Job(lane, g, d, seed)

    interleave(lanes_for(device, 3), start)
    sync(device)
    expected_mode = "cuda_graph" if device.type == "cuda" else "eager"
    assert [t.notes["mode"] for t in trainings] == [expected_mode] * len(seeds), [t.notes for t in trainings]
    for (g, _), weights in zip(pairs, alone):
        for name, value in g.state_dict().items():
            assert torch.equal(value, weights[name]), name


def test_the_bench_trains_several_trials_interleaved_in_one_process(device):
    spec = dcgan_spec(32, 32)
    cfg = BenchConfig(steps=20, batch_size=32)
    data = torch.rand(512, 3, 32, 32, device=device) * 2 - 1
    trials = run_trials(spec, data, cfg, seeds=[0, 1, 2, 3, 4], lanes=3)
    assert len(trials) == 5 and all(seconds > 0 for seconds, _, _ in trials)
    assert {mode for _, mode, _ in trials} == {"cuda_graph" if device.type == "cuda" else "eager"}


SYNCING_BLOCK = """
import torch.nn as nn
import gansearch


class Syncs(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.conv = nn.ConvTranspose2d(a.in_channels, a.out_channels, a.stride, a.stride)

    def forward(self, x):
        if x.abs().max().item() > 1e9:  # a host sync: cannot be captured in a CUDA graph
            raise RuntimeError("unreachable")
        return self.conv(x)


@gansearch.hookimpl
def register_blocks(register):
    register(gansearch.Block("syncs", Syncs, scale="up", description="reads a value back to the host"))
"""


def test_a_block_that_cannot_be_captured_falls_back_to_eager_with_the_reason(cuda_study, tmp_path, device):
    (tmp_path / "syncs.py").write_text(SYNCING_BLOCK)
    path = cuda_study(n_trials=2, plugins="[syncs.py]", g_blocks="syncs", extra="trials_per_worker: 2\n")
    path.write_text(path.read_text().replace("kernels: [3, 4]", "kernels: [2]").replace("strides: [1, 2]",
                                                                                        "strides: [2]"))
    assert "syncs" in prepare(path, load_data=False).registry.blocks
    needs_cuda(device, "a graph capture that fails")
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").all()
    assert (df["step_mode"] == "eager").all() and df["graph_fallback"].notna().all()


def test_several_workers_share_one_device(cuda_study, device):
    workers = 4 if device.type == "cuda" else 2
    path = cuda_study(n_trials=8, workers=workers, extra="trials_per_worker: 1\n")
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() >= 8
    assert 2 <= df["worker"].nunique() <= workers  # (a worker that starts last may find every trial taken)
    assert (df["step_mode"] == ("cuda_graph" if device.type == "cuda" else "eager")).all()


def test_a_worker_holds_no_more_gpu_memory_after_50_trials(cuda_study, monkeypatch, device):
    path = cuda_study(n_trials=50, extra="trials_per_worker: 1\n")
    path.write_text(path.read_text().replace("steps: 20, eval_every: 10", "steps: 12, eval_every: 6"))
    prepare(path, load_data=False)
    needs_cuda(device, "CUDA memory (tests/test_workers.py checks a CPU worker's memory)")
    allocated = []
    real_show = progress.show

    def record(bar, trials, trial=None):
        torch.cuda.synchronize()
        allocated.append(torch.cuda.memory_allocated())
        real_show(bar, trials, trial)

    monkeypatch.setattr(progress, "show", record)
    run_study(path, progress=True)
    assert len(allocated) == 50
    assert allocated[-1] - allocated[0] < 16 * 2**20, [a // 2**20 for a in allocated[::10]]


def test_interleaved_trials_train_on_their_own_lanes_in_each_worker(cuda_study, device):
    """trials_per_worker: several trials in one process, each capturing and replaying its own graph."""
    path = cuda_study(n_trials=12, workers=2, extra="trials_per_worker: 3\n")
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() >= 12, df[["state", "failure"]] if "failure" in df else df["state"]
    assert (df["step_mode"] == ("cuda_graph" if device.type == "cuda" else "eager")).all(), \
        df["graph_fallback"].unique() if "graph_fallback" in df else None
    process, lane = df["worker"].str.rsplit("/", n=1).str[0], df["worker"].str.rsplit("/", n=1).str[1]
    assert set(lane) == {"lane-0", "lane-1", "lane-2"} and 1 <= process.nunique() <= 2  # up to 2 processes x 3 lanes
    assert df["score"].notna().all()


def test_a_packed_study_repeats_from_its_seed(cuda_study, device, deterministic):
    """(deconv only: bilinear upsampling's backward adds atomically on CUDA, which no flag makes repeatable)"""
    def run(name):
        path = cuda_study(n_trials=6, g_blocks="deconv", extra="trials_per_worker: 3\nsampler: random\n")
        path = path.rename(path.with_name(name))
        path.write_text(path.read_text().replace("name: tiny", f"name: {path.stem}"))
        return run_study(path, progress=False)

    a, b = run("a.yaml"), run("b.yaml")
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.value for t in a.trials] == pytest.approx([t.value for t in b.trials], rel=1e-5)


def test_lanes_run_on_streams_of_their_own_never_the_default_stream(device):
    lanes = lanes_for(device, 3)
    needs_cuda(device, "CUDA streams")
    seen = []
    for lane in lanes:
        with lane.active():
            seen.append(torch.cuda.current_stream(device).cuda_stream)
    assert seen == [lane.stream.cuda_stream for lane in lanes]
    assert len(set(seen)) == 3 and torch.cuda.default_stream(device).cuda_stream not in seen


def test_bench_layouts_keeps_the_fastest_for_workers_auto(tmp_path, monkeypatch, device):
    from gansearch.bench import _trainer_bench as bench
    from gansearch.bench import measure_layouts
    from gansearch.train import host_cores, plan_workers

    monkeypatch.setenv("GANSEARCH_CACHE", str(tmp_path))
    monkeypatch.setattr(bench, "candidate_layouts", lambda device: [(1, 1), (1, 3)])
    result = measure_layouts(BenchConfig(device=str(device), steps=20, trials=4), progress=lambda line: None)
    slots = plan_workers([str(device)], "auto", "auto")
    best = result["best"]
    assert slots[0].trials == best["trials_per_worker"] and slots[0].measured
    assert len(slots) == max(1, min(best["workers"], host_cores()))


def test_a_256_translate_pair_with_diffaugment_trains_as_a_cuda_graph(device):
    from gansearch.nets import build_pair
    from gansearch.plugins import make_policy

    prepared = prepare(STUDIES / "seed_pair.yaml", load_data=False)
    g, d = build_pair(prepared.baseline.arch, prepared.registry, seed=0)
    spec = prepared.space.train_spec({"batch_size": 4, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                                      "loss": "ns", "d_steps": 1, "augment": "color,translation,cutout",
                                      "l1_weight": 100.0}, 0)
    spec = type(spec)(**{**spec.to_dict(), "steps": 10, "eval_every": 10})
    needs_cuda(device, "a 256x256 pair's CUDA graph (tests/test_translate.py trains one on the CPU)")
    g, d = g.to(device), d.to(device)
    data = torch.rand(16, 6, 256, 256, device=device) * 2 - 1
    result = train(g, d, data, spec, score=lambda g: 0.5, augment=make_policy(spec.augment, prepared.registry))
    assert result.mode == "cuda_graph", result.fallback
