"""Several trials at once in one worker process (``trials_per_worker``), and the measured layout that
``workers: auto`` picks (issue 8). The CUDA-stream side is in tests_gpu/."""

import json
import signal
import threading
import time

import pytest
from click.testing import CliRunner

import gansearch
from gansearch import packing
from gansearch.cli import cli
from gansearch.config import load_config
from gansearch.study import open_study
from gansearch.devices import layout_file, plan_workers, save_layout
from gansearch.scoring import CACHE_ENV


def test_a_packed_worker_trains_its_trials_side_by_side_in_threads(tiny_study):
    path = tiny_study(n_trials=6, lr_g="{low: 1.0e-4, high: 1.0e-3, log: true}")
    path.write_text(path.read_text().replace("workers: 1", "workers: 1\ntrials_per_worker: 3"))
    gansearch.run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() >= 6 and df["score"].notna().all()
    assert df["worker"].str.contains("/gansearch-trial-").all() and df["worker"].nunique() == 3
    study = open_study(load_config(path), create=False)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(params) == len(set(params)), "threads sampling together proposed the same trial twice"


def test_run_packed_returns_each_result_and_raises_a_thread_s_error():
    import torch

    assert packing.run_packed(3, torch.device("cpu"), lambda i: i * i) == [0, 1, 4]

    def work(i):
        if i == 1:
            raise ValueError("trial thread 1")
        return i

    with pytest.raises(ValueError, match="trial thread 1"):
        packing.run_packed(2, torch.device("cpu"), work)
    assert not packing.packed()


@pytest.mark.parametrize("presses", [1, 2])  # 2: a terminal's Ctrl-C, then the run passing it on
def test_ctrl_c_in_the_main_thread_stops_every_trial_thread_at_its_next_step_and_waits_for_each(presses):
    import torch

    stopped = []

    def work(i):
        give_up = time.monotonic() + 20  # never hang the suite: without the stop, return (and fail below)
        try:
            while time.monotonic() < give_up:  # a training loop: check_stop before every step
                packing.check_stop()
                time.sleep(0.01)
        except KeyboardInterrupt as exc:
            time.sleep(0.3 * (3 - i))  # recording the interrupted trial takes time: the run waits for every one
            stopped.append(exc.args[0])
            raise

    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # even where SIGINT is ignored (`cmd &`)
    for press in range(presses):
        threading.Timer(0.3 + 0.2 * press, lambda: signal.pthread_kill(main, signal.SIGINT)).start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            packing.run_packed(3, torch.device("cpu"), work)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 3
    assert stopped == ["Ctrl-C"] * 3
    packing.check_stop()  # the stop is over: later trials in this process train as usual


def test_ctrl_c_while_trial_threads_start_stops_the_started_ones_and_skips_the_rest(monkeypatch):
    import torch

    ran = []

    def work(i):
        ran.append(i)
        give_up = time.monotonic() + 20
        while time.monotonic() < give_up:
            packing.check_stop()
            time.sleep(0.01)

    class StartInterrupted(threading.Thread):
        def start(self):
            if self.name.endswith("-1"):  # Ctrl-C as the second trial thread is about to start
                raise KeyboardInterrupt
            super().start()

    monkeypatch.setattr(packing.threading, "Thread", StartInterrupted)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        packing.run_packed(4, torch.device("cpu"), work)
    assert time.monotonic() - started < 2  # no waiting on the threads that never started
    assert ran == [0]


@pytest.fixture
def layout_cache(tmp_path, monkeypatch):
    """Layouts measured in a test stay in that test."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


def test_workers_auto_uses_the_layout_measured_on_this_kind_of_device(monkeypatch, layout_cache):
    monkeypatch.setattr("gansearch.devices.host_cores", lambda: 8)
    assert [(s.threads, s.trials) for s in plan_workers(["cpu"], "auto")] == [(1, 1)] * 8  # nothing measured yet
    save_layout("cpu", [{"workers": 8, "trials_per_worker": 1, "img_s": 100.0},
                        {"workers": 2, "trials_per_worker": 3, "img_s": 250.0}], {})
    slots = plan_workers(["cpu"], "auto", "auto")
    assert [(s.threads, s.trials) for s in slots] == [(1, 3)] * 2 and "measured" in slots[0].measured
    assert [s.trials for s in plan_workers(["cpu"], "auto", 1)] == [1] * 2  # an explicit value wins
    assert [(s.threads, s.trials) for s in plan_workers(["cpu"], 4, 2)] == [(1, 2)] * 4
    monkeypatch.setattr("gansearch.devices.host_cores", lambda: 16)  # measured on another machine: ignored
    assert [s.trials for s in plan_workers(["cpu"], "auto", "auto")] == [1] * 16


def test_auto_layouts_never_run_more_trials_at_once_than_host_cores(monkeypatch, layout_cache):
    monkeypatch.setattr("gansearch.devices.host_cores", lambda: 4)
    save_layout("cpu", [{"workers": 4, "trials_per_worker": 3, "img_s": 1.0}], {})  # a hand-edited file, say
    assert [s.trials for s in plan_workers(["cpu"], "auto", "auto")] == [3]


def test_bench_layouts_measures_and_keeps_the_fastest(tmp_path, monkeypatch, layout_cache):
    monkeypatch.setattr("gansearch.bench.candidate_layouts", lambda device: [(1, 1), (1, 2)])
    out = tmp_path / "layouts.json"
    result = CliRunner().invoke(cli, ["bench", "--layouts", "--device", "cpu", "--resolution", "16", "--steps", "10",
                                      "--trials", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    measured = json.loads(out.read_text())
    assert [(m["workers"], m["trials_per_worker"]) for m in measured["measured"]] == [(1, 1), (1, 2)]
    assert all(m["img_s"] > 0 for m in measured["measured"])
    kept = json.loads(layout_file("cpu").read_text())
    best = max(measured["measured"], key=lambda m: m["img_s"])
    assert (kept["workers"], kept["trials_per_worker"]) == (best["workers"], best["trials_per_worker"])
