import io
import json
from pathlib import Path

import optuna
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import gansearch
from gansearch.cli import cli
from gansearch.config import load_config
from gansearch.run import run_study
from gansearch.score import Scorer
from gansearch.store import open_study
from gansearch.train import Training

PIXELSHUFFLE = Path(__file__).parents[1] / "plugins" / "gansearch-pixelshuffle" / "gansearch_pixelshuffle.py"


def test_run_writes_samples_and_weights_for_every_trial(tiny_study):
    path = tiny_study(n_trials=3)
    study = run_study(path, progress=False)
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    out = path.parent / "runs" / "tiny"
    assert (out / "journal.log").exists()
    for t in trials:
        samples = out / t.user_attrs["samples"]
        assert Image.open(samples).size[0] >= 8 * 48
        state = torch.load(out / t.user_attrs["generator"])
        assert any(k.startswith("layers.") for k in state)
        assert t.user_attrs["steps"] == 20 and t.user_attrs["g_params"] > 0
        assert sorted(t.intermediate_values) == [10, 20]
        record = json.loads((out / t.user_attrs["samples"]).with_name("trial.json").read_text())
        assert (record["state"], record["value"], record["params"]) == ("COMPLETE", t.value, t.params)
    df = gansearch.trials_dataframe(path)  # where each trial's wall time went
    parts = df[["setup_s", "train_s", "score_s", "artifacts_s"]]
    assert (parts > 0).all().all() and (parts.sum(axis=1) <= df["duration_s"] + 0.05).all()
    assert (df["train_precision"] == "fp32").all()


def test_run_resumes_and_keeps_finished_trials(tiny_study):
    path = tiny_study(n_trials=2)
    first = {t.number: (t.value, t.params) for t in run_study(path, progress=False).get_trials()}
    study = run_study(path, progress=False)  # already done: nothing new
    assert len(study.get_trials()) == 2
    study = run_study(path, n_trials=4, progress=False)
    after = {t.number: (t.value, t.params) for t in study.get_trials()}
    assert len(after) == 4 and {n: after[n] for n in first} == first


def test_two_runs_with_the_same_seed_are_identical(tiny_study, tmp_path):
    a = run_study(tiny_study(n_trials=3, name="a.yaml"), progress=False)
    b_path = tmp_path / "b" / "study.yaml"
    b_path.parent.mkdir()
    b_path.write_text((tmp_path / "a.yaml").read_text())
    b = run_study(b_path, progress=False)
    assert [(t.params, t.value) for t in a.get_trials()] == [(t.params, t.value) for t in b.get_trials()]


def test_a_crash_mid_study_loses_no_finished_trial(tiny_study, interrupt_trial):
    path = tiny_study(n_trials=4)
    disarm = interrupt_trial(3)
    with pytest.raises(KeyboardInterrupt):
        run_study(path, progress=False)
    states = [t.state.name for t in open_study(load_config(path), create=False).get_trials()]
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    disarm()
    study = run_study(path, progress=False)
    assert [t.state.name for t in study.get_trials()].count("COMPLETE") == 4


def test_a_diverged_trial_fails_with_its_reason_and_the_study_goes_on(tiny_study, monkeypatch):
    path = tiny_study(n_trials=2)
    real_score = Scorer.score
    scores = iter([float("nan")])

    def nan_once(self, g):
        return next(scores, None) or real_score(self, g)

    monkeypatch.setattr(Scorer, "score", nan_once)
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert list(df["state"]) == ["fail", "complete", "complete"]
    assert "TrialDiverged: non-finite score at step 10" in df.loc[0, "failure"]
    assert df.loc[0, "samples"] and Path(df.loc[0, "samples"]).exists()


def test_a_plugin_block_named_by_path_is_used_by_the_search(tiny_study):
    path = tiny_study(n_trials=2, plugins=f"[{PIXELSHUFFLE}]", g_blocks="pixel_shuffle")
    study = run_study(path, progress=False)
    for t in study.get_trials():
        assert t.state.name == "COMPLETE"
        assert {layer["block"] for layer in t.user_attrs["arch"]["generator"]["layers"]} == {"pixel_shuffle"}
    g = gansearch.load_generator(path)
    assert g(torch.randn(2, g.latent_dim)).shape == (2, 1, 8, 8)


def test_pruned_trials_record_where_they_stopped(tiny_study):
    path = tiny_study(n_trials=8)
    path.write_text(path.read_text().replace("pruner: none", "pruner: median").replace(
        "steps: 20", "steps: 40").replace("lr_g: [2.0e-4, 5.0e-4]", "lr_g: {low: 1.0e-6, high: 1.0e-2, log: true}"))
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    pruned = df[df["state"] == "pruned"]
    assert (df["state"].isin(["complete", "pruned"])).sum() == 8
    assert not pruned.empty, "the median pruner should stop some of 8 trials spanning lr 1e-6..1e-2"
    assert (pruned["pruned_at"] < 40).all() and (pruned["steps"] == pruned["pruned_at"]).all()


def test_resuming_proposes_new_trials_rather_than_replaying_the_first_ones(tiny_study):
    path = tiny_study(n_trials=2)
    path.write_text(path.read_text().replace("pruner: none", "pruner: none\nsampler: random"))  # no TPE model
    run_study(path, progress=False)
    study = run_study(path, n_trials=4, progress=False)
    first, resumed = study.trials[:2], study.trials[2:]
    assert [t.params for t in resumed] != [t.params for t in first]


def test_editing_the_search_space_mid_study_is_a_config_error(finished_study):
    path = finished_study
    path.write_text(path.read_text().replace("kernels: [3, 4]", "kernels: [3, 5]"))
    said = io.StringIO()
    with pytest.raises(gansearch.StudyConfigError, match=r"generator.kernels: changed from \[3, 4\] to \[3, 5\]"):
        run_study(path, n_trials=3, out=said)
    assert "preparing the score" not in said.getvalue()  # said before anything slow starts
    assert len(open_study(load_config(path), create=False).trials) == 2
    path.write_text(path.read_text().replace("kernels: [3, 5]", "kernels: [3, 4]"))
    assert len(run_study(path, n_trials=3, progress=False).trials) == 3


def test_failed_trials_record_why_and_repeated_failures_stop_the_run(tiny_study, monkeypatch):
    path = tiny_study(n_trials=8)

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Training, "setup", out_of_memory)
    with pytest.raises(gansearch.GansearchError, match="5 trials in a row failed; last: OutOfMemoryError"):
        run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert list(df["state"]) == ["fail"] * 5
    assert (df["failure"] == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB").all()


PICKY = """
import torch.nn as nn
import gansearch

@gansearch.hookimpl
def register_blocks(register):
    # GroupNorm(4, C) cannot normalise C < 4 channels: the generator's 1-channel output layer breaks it
    register(gansearch.Block("picky", lambda a: nn.Sequential(
        nn.ConvTranspose2d(a.in_channels, a.out_channels, a.stride, a.stride), nn.GroupNorm(4, a.out_channels)),
        scale="up", description="breaks on few channels"))
"""


def test_a_block_that_cannot_build_the_output_layer_is_caught_before_the_study(tiny_study, tmp_path):
    (tmp_path / "picky.py").write_text(PICKY)
    path = tiny_study(plugins="[picky.py]", g_blocks="picky")
    with pytest.raises(gansearch.PluginError, match=r"block 'picky' \(plugin 'picky.py'\) failed to build .*"
                                                    r"out_channels=1.*num_groups"):
        run_study(path, progress=False)
    assert not (tmp_path / "runs").exists()


def test_tpe_defaults_suit_short_parallel_studies(tiny_study):
    from gansearch.search import make_sampler, startup_trials

    sampler = make_sampler(load_config(tiny_study(n_trials=12)))
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert (sampler._n_startup_trials, sampler._multivariate, sampler._group, sampler._constant_liar) == (
        3, True, True, True)
    assert [startup_trials(n) for n in (5, 12, 30, 50, 500)] == [3, 3, 6, 10, 10]


def test_the_dcgan_baseline_is_trial_0_and_the_summary_compares_the_best_with_it(tiny_study):
    path = tiny_study(n_trials=3, baseline="dcgan")
    result = CliRunner().invoke(cli, ["run", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    df = gansearch.trials_dataframe(path)
    assert df.loc[0, "baseline"] == "dcgan" and df["baseline"].notna().sum() == 1
    layers = open_study(load_config(path), create=False).trials[0].user_attrs["arch"]["generator"]["layers"]
    assert [(layer["block"], layer["kernel"], layer["stride"]) for layer in layers] == [("deconv", 4, 2)]
    assert "baseline" in result.output
    assert "best/baseline:" in result.output or "is the best trial so far" in result.output
    best = CliRunner().invoke(cli, ["best", str(path)])
    assert best.exit_code == 0 and ("best/baseline:" in best.output or "is the best trial" in best.output)


def test_a_baseline_interrupted_mid_trial_is_run_again_on_resume(tiny_study, interrupt_trial):
    path = tiny_study(n_trials=2, baseline="dcgan")
    disarm = interrupt_trial(1)  # Ctrl-C during the baseline, trial 0
    with pytest.raises(KeyboardInterrupt):
        run_study(path, progress=False)
    disarm()
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    baselines = df[df["baseline"] == "dcgan"]
    assert list(baselines["state"]) == ["fail", "complete"]


def test_a_study_from_an_older_gansearch_is_refused_with_the_reason(finished_study):
    path = finished_study
    study = open_study(load_config(path), create=False)
    old = dict(study.user_attrs["gansearch_fingerprint"])
    old["score"] = {k: v for k, v in old["score"].items() if k != "extractor"}  # as gansearch 0.1 stored it
    study.set_user_attr("gansearch_fingerprint", old)
    with pytest.raises(gansearch.StudyConfigError, match="score.extractor: this study was created by an older"):
        run_study(path, n_trials=3, progress=False)


def test_a_trials_time_limit_waits_for_optunas_storage_writes():
    """SIGALRM landing inside Optuna (a journal write holding its lock) is held until Optuna returns."""
    import signal
    import time

    from gansearch.errors import TrialTimedOut
    from gansearch.run import _signals

    fake_optuna = {"__name__": "optuna.storages.fake"}
    code = compile("def write():\n    import time\n    t = time.monotonic()\n    while time.monotonic() - t < 0.3:\n"
                   "        pass\n    return 'written'\n", "/site-packages/optuna/storages/fake.py", "exec")
    exec(code, fake_optuna)
    done = []
    with pytest.raises(TrialTimedOut):
        with _signals.time_limited(time.monotonic() + 0.1, 0.1):
            done.append(fake_optuna["write"]())  # the alarm comes at 0.1 s, inside "Optuna": held
            while True:  # and raised in our own code once Optuna returned
                time.sleep(0.01)
    assert done == ["written"]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # nothing left armed


def test_one_trials_deadline_never_stops_another_trial_in_the_same_worker():
    """Interleaved trials share one timer: when it fires for trial A's deadline while trial B advances,
    B goes on until its own deadline."""
    import time

    from gansearch.errors import TrialTimedOut
    from gansearch.run import _signals

    start = time.monotonic()
    with _signals.time_limited(start + 0.1, 0.1):  # trial A: a quick step, its timer armed
        pass
    with _signals.time_limited(start + 0.6, 0.6):  # trial B: busy past A's deadline, not past its own
        while time.monotonic() - start < 0.3:
            pass
    with pytest.raises(TrialTimedOut, match="limit of 0.6 s"):
        with _signals.time_limited(start + 0.6, 0.6):  # B again: now it hangs
            time.sleep(5)
    assert time.monotonic() - start < 2
    with pytest.raises(TrialTimedOut):  # A's next step: past its deadline, refused at once
        with _signals.time_limited(start + 0.1, 0.1):
            pass


def test_no_timer_is_left_armed_after_trials_with_a_time_limit(tiny_study):
    """A timer left armed after the last trial would kill the process (SIGALRM) as it exits."""
    import signal

    path = tiny_study(n_trials=2)
    path.write_text(path.read_text() + "trial_timeout: 600\n")
    run_study(path, progress=False)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
