"""Multi-objective studies (issue 10): objectives: [score, g_macs], the Pareto set, quality-only pruning."""

import optuna
import pytest
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.config import config_from_dict
from gansearch.errors import StudyConfigError
from gansearch.run import run_study
from gansearch.search import MIN_PEERS, directions, should_prune_on_quality

from conftest import with_changes


def test_a_score_and_macs_study_keeps_the_pareto_set_and_prints_it(tiny_study):
    path = tiny_study(n_trials=8, steps=20)
    path.write_text(path.read_text() + "objectives: [score, g_macs]\n")
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    done = df[df["state"] == "complete"]
    front = done[done["pareto"] == True]  # noqa: E712
    assert not front.empty and df["score"].notna().sum() == len(done)
    for r in done.itertuples():  # the front: exactly the trials no other complete trial beats on both
        beaten = any(o.score <= r.score and o.g_macs <= r.g_macs and (o.score < r.score or o.g_macs < r.g_macs)
                     for o in done.itertuples())
        assert bool(r.pareto) == (not beaten), r.number
    out = CliRunner().invoke(cli, ["best", str(path)]).output
    assert "Pareto set" in out and "MACs per image" in out
    assert [p.number for p in gansearch.pareto_trials(path)] == sorted(front["number"], key=lambda n: float(
        front.set_index("number").loc[n, "score"]))


def _study_with_peers(config, peers):
    """A multi-objective study whose finished trials reported ``score`` at step 100 and cost ``costs``."""
    study = optuna.create_study(directions=directions(config))
    for score, costs in peers:
        trial = study.ask()
        trial.set_user_attr("reported", {"100": score})
        for name, cost in costs.items():
            trial.set_user_attr(name, cost)
        study.tell(trial, [score] + [10.0] * (len(config.objectives) - 1))
    return study


def _asking(study, **costs):
    trial = study.ask()
    for name, cost in costs.items():
        trial.set_user_attr(name, cost)
    return trial


def test_multi_objective_pruning_uses_the_median_score_of_earlier_trials_at_that_step():
    config = config_from_dict(with_changes({"objectives": ["score", "g_macs"]}))
    study = _study_with_peers(config, [(1.0 + i, {"g_macs": 100}) for i in range(MIN_PEERS)])
    trial = _asking(study, g_macs=100)
    assert should_prune_on_quality(trial, 100, 3.5, config)  # worse than the median, 3.0
    assert not should_prune_on_quality(trial, 100, 2.5, config)
    assert not should_prune_on_quality(trial, 200, 99.0, config)  # no earlier trial reported at step 200
    config.pruner = "none"
    assert not should_prune_on_quality(trial, 100, 99.0, config)


def test_multi_objective_pruning_never_drops_a_trial_for_scoring_below_dearer_ones():
    """Only a trial at most as costly can dominate another: a cheap generator that scores worse than big
    ones early on stays, so the cheap end of the Pareto front is searched, not pruned away."""
    config = config_from_dict(with_changes({"objectives": ["score", "g_macs"]}))
    dear = [(1.0 + i, {"g_macs": 1000}) for i in range(MIN_PEERS)]  # median score 3.0
    cheap = [(5.0 + i, {"g_macs": 10}) for i in range(MIN_PEERS)]  # median score 7.0
    study = _study_with_peers(config, dear + cheap)
    assert not should_prune_on_quality(_asking(study, g_macs=50), 100, 6.0, config)  # only the cheap 5 compare
    assert should_prune_on_quality(_asking(study, g_macs=50), 100, 7.5, config)
    assert should_prune_on_quality(_asking(study, g_macs=1000), 100, 5.5, config)  # all 10 compare: median 5.0
    assert not should_prune_on_quality(_asking(study, g_macs=5), 100, 99.0, config)  # nothing is cheaper


@pytest.mark.parametrize("objectives, costs, pruned", [
    (["score", "g_macs", "g_params"], {"g_macs": 500, "g_params": 50}, False),  # peers cost more parameters
    (["score", "g_macs", "g_params"], {"g_macs": 50, "g_params": 500}, False),  # peers cost more MACs
    (["score", "g_macs", "g_params"], {"g_macs": 500, "g_params": 500}, True),
    (["score", "g_latency_ms"], {"g_macs": 50}, False),  # latency is known after training: MACs stand in
    (["score", "g_latency_ms"], {"g_macs": 500}, True),
])
def test_pruning_compares_on_every_cost_objective_known_before_training(objectives, costs, pruned):
    config = config_from_dict(with_changes({"objectives": objectives}))
    study = _study_with_peers(config, [(1.0, {"g_macs": 100, "g_params": 100})] * MIN_PEERS)
    assert should_prune_on_quality(_asking(study, **costs), 100, 2.0, config) is pruned


def test_translate_objectives_without_a_cost_prune_against_every_earlier_trial():
    config = config_from_dict(with_changes({"task": "translate", "objectives": ["score", "psnr"]}))
    study = _study_with_peers(config, [(1.0, {"g_macs": 1000})] * MIN_PEERS)
    assert should_prune_on_quality(_asking(study, g_macs=1), 100, 2.0, config)


@pytest.mark.parametrize("objectives, message", [
    (["g_macs", "g_params"], "list score once"),
    (["score", "g_flops"], "objectives.1: 'g_flops' is not allowed"),
    (["score", "l1"], "objectives.1: 'l1' is not allowed"),  # a translate column in a generate study
])
def test_bad_objectives_are_one_clear_error(objectives, message):
    with pytest.raises(StudyConfigError, match=message):
        config_from_dict(with_changes({"objectives": objectives}))


def test_cmaes_cannot_run_a_multi_objective_study():
    with pytest.raises(StudyConfigError, match="cmaes optimises one objective"):
        config_from_dict(with_changes({"objectives": ["score", "g_macs"], "sampler": "cmaes"}))


def test_psnr_is_maximised_and_costs_minimised():
    config = config_from_dict(with_changes({"task": "translate", "objectives": ["score", "psnr", "g_latency_ms"]}))
    assert directions(config) == ["minimize", "maximize", "minimize"]
