"""The CUDA paths: graph capture, its fallback, several workers on one GPU, no memory leak."""

import torch

import gansearch
from gansearch import runner
from gansearch.bench import _pair, _train_spec, BenchConfig, dcgan_spec
from gansearch.trainer import Step, make_step, train

CUDA = torch.device("cuda:0")


def test_graphed_and_eager_training_from_one_seed_agree(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    spec = dcgan_spec(32, 32)
    data = torch.rand(1024, 3, 32, 32, device=CUDA) * 2 - 1
    tspec = _train_spec(BenchConfig(steps=10), seed=7)
    g1, d1 = _pair(spec, CUDA, 0)
    result = train(g1, d1, data, tspec, score=lambda g: 0.0)
    assert result.mode == "cuda_graph", result.fallback
    rng_graphed = torch.cuda.get_rng_state()
    g2, d2 = _pair(spec, CUDA, 0)
    torch.manual_seed(tspec.seed)
    eager = Step(g2, d2, data, tspec, capturable=True)  # the same optimizer arithmetic, run eagerly
    for _ in range(tspec.steps):
        eager()
    torch.cuda.synchronize()
    assert torch.equal(rng_graphed, torch.cuda.get_rng_state()), "replays consumed random numbers differently"
    for (name, a), b in zip([*g1.state_dict().items(), *d1.state_dict().items()],
                            [*g2.state_dict().values(), *d2.state_dict().values()]):
        a, b = a.float(), b.float()
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), f"{name}: max diff {(a - b).abs().max().item():.3g}"


def test_graph_replays_draw_fresh_batches_and_noise():
    spec = dcgan_spec(32, 32)
    data = torch.rand(1024, 3, 32, 32, device=CUDA) * 2 - 1
    g, d = _pair(spec, CUDA, 0)
    notes = {}
    step, _ = make_step(g, d, data, _train_spec(BenchConfig(steps=50), 0), notes)
    assert notes["mode"] == "cuda_graph"
    losses = set()
    for _ in range(5):
        step()
        losses.add(round(step.step.loss_d.item(), 6))
    assert len(losses) == 5


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


def test_a_block_that_cannot_be_captured_falls_back_to_eager_with_the_reason(cuda_study, tmp_path):
    (tmp_path / "syncs.py").write_text(SYNCING_BLOCK)
    path = cuda_study(n_trials=2, plugins="[syncs.py]", g_blocks="syncs",
                      extra="")
    path.write_text(path.read_text().replace("kernels: [3, 4]", "kernels: [2]").replace("strides: [1, 2]",
                                                                                        "strides: [2]"))
    gansearch.run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").all()
    assert (df["step_mode"] == "eager").all() and df["graph_fallback"].notna().all()


def test_several_workers_share_one_gpu(cuda_study):
    path = cuda_study(n_trials=8, workers=4)
    gansearch.run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() >= 8
    assert df["worker"].nunique() == 4 and (df["step_mode"] == "cuda_graph").all()


def test_a_worker_holds_no_more_gpu_memory_after_50_trials(cuda_study, monkeypatch):
    path = cuda_study(n_trials=50)
    path.write_text(path.read_text().replace("steps: 20, eval_every: 10", "steps: 12, eval_every: 6"))
    allocated = []
    real_show = runner._show

    def record(bar, trials, trial=None):
        torch.cuda.synchronize()
        allocated.append(torch.cuda.memory_allocated())
        real_show(bar, trials, trial)

    monkeypatch.setattr(runner, "_show", record)
    gansearch.run_study(path, progress=True)
    assert len(allocated) == 50
    assert allocated[-1] - allocated[0] < 16 * 2**20, [a // 2**20 for a in allocated[::10]]


def test_packed_trials_train_graphed_on_their_own_streams(cuda_study):
    """trials_per_worker: several trials in one process, each thread capturing and replaying its own graph."""
    path = cuda_study(n_trials=8, workers=2, extra="trials_per_worker: 3\n")
    gansearch.run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() >= 8, df[["state", "failure"]] if "failure" in df else df["state"]
    assert (df["step_mode"] == "cuda_graph").all(), df["graph_fallback"].unique()
    assert df["worker"].nunique() == 6  # 2 processes x 3 threads
    assert df["score"].notna().all()


def test_packed_trials_use_one_stream_per_thread_not_the_default_stream():
    import threading

    from gansearch import packing

    seen = {}

    def work(i):
        s = torch.cuda.current_stream(CUDA)
        seen[i] = (s.cuda_stream, packing.thread_stream(CUDA, "capture").cuda_stream, threading.get_ident())
        return i

    assert packing.run_packed(3, CUDA, work) == [0, 1, 2]
    train_streams = {v[0] for v in seen.values()}
    assert len(train_streams) == 3 and torch.cuda.default_stream(CUDA).cuda_stream not in train_streams
    assert len({v[1] for v in seen.values()} | train_streams) == 6


def test_bench_layouts_keeps_the_fastest_for_workers_auto(tmp_path, monkeypatch):
    from gansearch import bench
    from gansearch.bench import BenchConfig, measure_layouts
    from gansearch.devices import plan_workers

    monkeypatch.setenv("GANSEARCH_CACHE", str(tmp_path))
    monkeypatch.setattr(bench, "candidate_layouts", lambda device: [(1, 1), (1, 3)])
    result = measure_layouts(BenchConfig(device="cuda:0", steps=20, trials=4), progress=lambda line: None)
    slots = plan_workers(["cuda:0"], "auto", "auto")
    best = result["best"]
    assert slots[0].trials == best["trials_per_worker"] and slots[0].measured
    from gansearch.devices import host_cores

    assert len(slots) == max(1, min(best["workers"], host_cores() // best["trials_per_worker"]))


def test_a_256_translate_pair_with_diffaugment_trains_as_a_cuda_graph():
    from pathlib import Path

    from gansearch.augment import make_policy
    from gansearch.builder import build_pair
    from gansearch.study import prepare

    prepared = prepare(Path(__file__).parents[1] / "studies" / "seed_pair.yaml", load_data=False)
    g, d = build_pair(prepared.baseline.arch, prepared.registry, seed=0)
    g, d = g.to(CUDA), d.to(CUDA)
    data = torch.rand(16, 6, 256, 256, device=CUDA) * 2 - 1
    spec = prepared.space.train_spec({"batch_size": 4, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                                      "loss": "ns", "d_steps": 1, "augment": "color,translation,cutout",
                                      "l1_weight": 100.0}, 0)
    spec = type(spec)(**{**spec.to_dict(), "steps": 10, "eval_every": 10})
    result = train(g, d, data, spec, score=lambda g: 0.5, augment=make_policy(spec.augment, prepared.registry))
    assert result.mode == "cuda_graph", result.fallback
