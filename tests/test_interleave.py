"""Several trials at once in one worker process (``trials_per_worker``): one host thread interleaves them,
each in a lane with its own random state (issue 15), and the measured layout that ``workers: auto`` picks
(issue 8). The CUDA-stream side is in tests_gpu/."""

import json
import signal
import threading
import time

import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

import gansearch
from gansearch._cache import CACHE_ENV
from gansearch.bench import _trainer_bench as trainer_bench
from gansearch.cli import cli
from gansearch.config import load_config
from gansearch.nets import TrainSpec
from gansearch.plugins import load_registry
from gansearch.run import run_study
from gansearch.store import open_study
from gansearch.train import Training, TrialRandom, interleave, lanes_for, layout_file, plan_workers, save_layout, train


class Job:
    """A fake job: ``steps`` steps, logging what happens in one shared list."""

    def __init__(self, name, log, steps=3, fail_at=None):
        self.name, self.log, self.steps, self.fail_at, self.done = name, log, steps, fail_at, 0

    def advance(self):
        self.done += 1
        if self.done == self.fail_at:
            raise ValueError(f"{self.name} broke")
        self.log.append(f"{self.name}.{self.done}")
        return self.done == self.steps

    def close(self, exc):
        self.log.append(f"close {self.name}: {type(exc).__name__ if exc else 'done'}")


def starter(jobs):
    jobs = list(jobs)
    return lambda lane: jobs.pop(0) if jobs else None


def test_jobs_advance_in_lane_order_and_a_free_lane_takes_the_next_job():
    log = []
    jobs = [Job("a", log, 2), Job("b", log, 3), Job("c", log, 1)]
    interleave(lanes_for("cpu", 2), starter(jobs))
    assert log == ["a.1", "b.1", "a.2", "close a: done", "b.2",
                   "c.1", "close c: done", "b.3", "close b: done"]


def test_a_job_that_raises_is_closed_with_its_error_and_the_others_go_on():
    log = []
    interleave(lanes_for("cpu", 2), starter([Job("a", log, 3, fail_at=2), Job("b", log, 3), Job("c", log, 1)]))
    assert "close a: ValueError" in log and log.index("close a: ValueError") < log.index("b.2")
    assert log[-1] == "close b: done" and "close c: done" in log


def test_an_interrupt_closes_every_running_job_with_it_and_is_raised_again():
    log = []

    class Interrupted(Job):
        def advance(self):
            if self.done == 1:
                raise KeyboardInterrupt("Ctrl-C")
            return super().advance()

    with pytest.raises(KeyboardInterrupt):
        interleave(lanes_for("cpu", 3), starter([Job("a", log, 5), Job("b", log, 5), Interrupted("c", log, 5)]))
    assert sorted(x for x in log if x.startswith("close")) == [f"close {n}: KeyboardInterrupt" for n in "abc"]


def test_a_second_ctrl_c_while_jobs_record_the_first_does_not_cut_the_recording_short():
    log = []
    main = threading.main_thread().ident

    class SlowToRecord(Job):
        def close(self, exc):
            if isinstance(exc, KeyboardInterrupt):
                signal.pthread_kill(main, signal.SIGINT)  # a terminal's Ctrl-C, then the run passing it on
                time.sleep(0.05)
            super().close(exc)

    class Interrupted(Job):
        def advance(self):
            raise KeyboardInterrupt("Ctrl-C")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even where SIGINT is ignored (`cmd &`)
    try:
        with pytest.raises(KeyboardInterrupt):
            interleave(lanes_for("cpu", 3), starter([SlowToRecord("a", log, 9), SlowToRecord("b", log, 9),
                                                     Interrupted("c", log)]))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(x for x in log if x.startswith("close")) == [f"close {n}: KeyboardInterrupt" for n in "abc"]


class TinyG(nn.Module):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 16)
        self.drop = nn.Dropout(0.2)  # draws from the default generator: the trial's scope must hold it

    def forward(self, z):
        return torch.tanh(self.drop(self.net(z))).view(-1, 1, 4, 4)


def tiny_pair(seed):
    torch.manual_seed(seed)
    return TinyG(), nn.Sequential(nn.Flatten(), nn.Linear(16, 1), nn.Flatten(0))


def tiny_spec(seed, steps=12):
    return TrainSpec(steps=steps, eval_every=4, batch_size=8, lr_g=1e-3, lr_d=1e-3, beta1=0.5, beta2=0.999,
                     loss="ns", d_steps=1, seed=seed, augment="color,translation,cutout")


class TrainingJob:
    def __init__(self, seed, data, policy):
        self.g, d = tiny_pair(seed)
        self.training = Training(self.g, d, data, tiny_spec(seed), policy, TrialRandom(seed))
        self.training.setup()
        self.losses = []

    def advance(self):
        self.training.step()
        self.losses.append(self.training.run_step.loss_d.item())
        torch.rand(3)  # someone else drawing from the default generator between steps changes nothing
        return self.training.finished

    def close(self, exc):
        if exc is not None:
            raise exc


def test_interleaved_trainings_equal_the_same_trainings_run_one_after_another():
    from gansearch.plugins import make_policy

    policy = make_policy("color,translation,cutout", load_registry(entry_points=False))
    data = torch.rand(64, 1, 4, 4) * 2 - 1
    seeds = [3, 5, 7, 11]
    alone = []
    for seed in seeds:
        g, d = tiny_pair(seed)
        torch.rand(5)  # other draws between trials change nothing either
        train(g, d, data, tiny_spec(seed), lambda g: 0.0, augment=policy, rng=TrialRandom(seed))
        alone.append(g.net.weight.detach().clone())
    jobs = [TrainingJob(seed, data, policy) for seed in seeds]
    interleave(lanes_for("cpu", 3), starter(jobs))
    for job, weight in zip(jobs, alone):
        assert torch.equal(job.g.net.weight, weight)
    assert len({tuple(job.losses) for job in jobs}) == len(seeds)  # each trial drew its own batches


def test_a_trial_s_random_scope_leaves_the_default_generator_as_it_was():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    rng = TrialRandom(42)
    with rng.scope():
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)  # as if the scope never ran
    with TrialRandom(42).scope():
        assert torch.equal(torch.rand(3), inside)  # the trial's stream depends on its seed alone
    with rng.scope():
        assert not torch.equal(torch.rand(3), inside)  # and goes on where it stopped


def packed(path, lanes):
    """The tiny study, named after its file, trained ``lanes`` trials at a time, with random sampling."""
    path.write_text(path.read_text().replace("workers: 1", f"workers: 1\ntrials_per_worker: {lanes}")
                    .replace("pruner: none", "pruner: none\nsampler: random")
                    .replace("name: tiny", f"name: {path.stem}"))
    return path


@pytest.mark.slow
def test_a_packed_worker_interleaves_its_trials_and_repeats_a_one_at_a_time_run(tiny_study, monkeypatch):
    monkeypatch.setattr("gansearch.train._devices.host_cores", lambda: 1)  # one torch thread either way: same sums
    one = run_study(packed(tiny_study(n_trials=6, name="one.yaml"), 1), progress=False)
    path = packed(tiny_study(n_trials=6, name="three.yaml"), 3)
    three = run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() == 6 and df["score"].notna().all()
    assert df["worker"].str.contains("/lane-").all() and df["worker"].nunique() == 3
    # random sampling proposes trial n's parameters whatever runs beside it, and each trial draws only from
    # its own random state: every trial trains exactly as it did one at a time
    assert [(t.params, t.value) for t in three.trials] == [(t.params, t.value) for t in one.trials]


@pytest.mark.slow
def test_a_packed_tpe_study_proposes_no_trial_twice_and_repeats_exactly(tiny_study, tmp_path):
    def run(name):
        path = tiny_study(n_trials=6, name=name, lr_g="{low: 1.0e-4, high: 1.0e-3, log: true}")
        path.write_text(path.read_text().replace("workers: 1", "workers: 1\ntrials_per_worker: 3")
                        .replace("name: tiny", f"name: {path.stem}"))
        return run_study(path, progress=False)

    a, b = run("a.yaml"), run("b.yaml")
    params = [tuple(sorted(t.params.items())) for t in a.trials]
    assert len(params) == len(set(params)), "trials started together proposed the same trial twice"
    assert [(t.params, t.value) for t in a.trials] == [(t.params, t.value) for t in b.trials]


def test_ctrl_c_records_every_interleaved_trial_as_interrupted(tiny_study, monkeypatch):
    path = packed(tiny_study(n_trials=6, steps=200), 3)
    real_step = Training.step
    steps = {"n": 0}

    def step(self):
        steps["n"] += 1
        if steps["n"] == 3 * 5:  # every lane has a trial part-way through
            raise KeyboardInterrupt("Ctrl-C")
        real_step(self)

    monkeypatch.setattr(Training, "step", step)
    with pytest.raises(KeyboardInterrupt):
        run_study(path, progress=False)
    trials = open_study(load_config(path), create=False).trials
    assert [t.state.name for t in trials] == ["FAIL"] * 3
    assert {t.user_attrs["failure"] for t in trials} == {"interrupted (Ctrl-C)"}
    for t in trials:  # each has its record and samples, as any ended trial
        record = json.loads((load_config(path).output_dir / t.user_attrs["samples"]).with_name("trial.json")
                            .read_text())
        assert record["state"] == "FAIL" and record["user_attrs"]["failure"] == "interrupted (Ctrl-C)"


@pytest.mark.slow
def test_a_real_sigint_mid_run_stops_every_interleaved_trial_and_each_is_recorded(tiny_study):
    path = packed(tiny_study(n_trials=6, steps=100000), 3)
    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even where SIGINT is ignored (`cmd &`)
    timers = [threading.Timer(delay, lambda: signal.pthread_kill(main, signal.SIGINT)) for delay in (4.0, 4.1)]
    for t in timers:
        t.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_study(path, progress=False)
    finally:
        for t in timers:
            t.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 30
    trials = open_study(load_config(path), create=False).trials
    assert len(trials) == 3 and {t.state.name for t in trials} == {"FAIL"}
    assert {t.user_attrs["failure"] for t in trials} == {"interrupted (Ctrl-C)"}


@pytest.fixture
def layout_cache(tmp_path, monkeypatch):
    """Layouts measured in a test stay in that test."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


def test_workers_auto_uses_the_layout_measured_on_this_kind_of_device(monkeypatch, layout_cache):
    monkeypatch.setattr("gansearch.train._devices.host_cores", lambda: 8)
    assert [(s.threads, s.trials) for s in plan_workers(["cpu"], "auto")] == [(1, 1)] * 8  # nothing measured yet
    save_layout("cpu", [{"workers": 8, "trials_per_worker": 1, "img_s": 100.0},
                        {"workers": 2, "trials_per_worker": 3, "img_s": 250.0}], {})
    slots = plan_workers(["cpu"], "auto", "auto")
    # a CPU worker's interleaved trials take turns on its cores: each step gets all of its share
    assert [(s.threads, s.trials) for s in slots] == [(4, 3)] * 2 and "measured" in slots[0].measured
    assert [s.trials for s in plan_workers(["cpu"], "auto", 1)] == [1] * 2  # an explicit value wins
    assert [(s.threads, s.trials) for s in plan_workers(["cpu"], 4, 2)] == [(2, 2)] * 4
    monkeypatch.setattr("gansearch.train._devices.host_cores", lambda: 16)  # measured on another machine: ignored
    assert [s.trials for s in plan_workers(["cpu"], "auto", "auto")] == [1] * 16


def test_auto_layouts_never_start_more_worker_processes_than_host_cores(monkeypatch, layout_cache):
    monkeypatch.setattr("gansearch.train._devices.host_cores", lambda: 4)
    save_layout("cpu", [{"workers": 6, "trials_per_worker": 3, "img_s": 1.0}], {})  # a hand-edited file, say
    assert [s.trials for s in plan_workers(["cpu"], "auto", "auto")] == [3] * 4


@pytest.mark.slow
def test_bench_layouts_measures_and_keeps_the_fastest(tmp_path, monkeypatch, layout_cache):
    monkeypatch.setattr("gansearch.bench._trainer_bench.candidate_layouts", lambda device: [(1, 1), (1, 2), (1, 3)])
    real = trainer_bench.timed_study

    def broken_third(spec, cfg, slots, n_trials):
        if slots[0].trials == 3:  # a layout that fails is recorded as failed; the others still count
            raise gansearch.GansearchError("benchmark worker failed: RuntimeError: out of memory")
        return real(spec, cfg, slots, n_trials)

    monkeypatch.setattr(trainer_bench, "timed_study", broken_third)
    out = tmp_path / "layouts.json"
    result = CliRunner().invoke(cli, ["bench", "--layouts", "--device", "cpu", "--resolution", "16", "--steps", "10",
                                      "--trials", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    measured = json.loads(out.read_text())
    assert [(m["workers"], m["trials_per_worker"]) for m in measured["measured"]] == [(1, 1), (1, 2)]
    assert all(m["img_s"] > 0 for m in measured["measured"])
    assert measured["failed"] == [{"workers": 1, "trials_per_worker": 3,
                                   "error": "benchmark worker failed: RuntimeError: out of memory"}]
    assert "1 process(es) x 3 trial(s) at once: failed (benchmark worker failed" in result.output
    kept = json.loads(layout_file("cpu").read_text())
    best = max(measured["measured"], key=lambda m: m["img_s"])
    assert (kept["workers"], kept["trials_per_worker"]) == (best["workers"], best["trials_per_worker"])
