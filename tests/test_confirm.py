"""gansearch confirm (issue 18): the study's winners and its baseline retrained from scratch, longer and with
several seeds, as a companion study that resumes and survives Ctrl-C like a run; and what it shows."""

import dataclasses
import math

import optuna
import pytest
from click.testing import CliRunner
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

import gansearch
from gansearch.cli import cli
from gansearch.config import load_config
from gansearch.confirm import (
    Confirmed, Summary, average_ranks, best_confirmed, bootstrap_interval, candidates, companion_config, confirm_study,
    kendall, seed_agreement, spearman,
)
from gansearch.run import run_study
from gansearch.store import open_study

# -- the statistics ------------------------------------------------------------------------------------------


def test_rank_correlations_match_their_definitions():
    x, y = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]  # two adjacent pairs swapped
    assert spearman(x, y) == pytest.approx(1 - 6 * 4 / (5 * 24))  # 1 - 6 sum d^2 / (n (n^2 - 1)) = 0.8
    assert kendall(x, y) == pytest.approx((8 - 2) / 10)  # 8 concordant, 2 discordant pairs
    assert spearman(x, x[::-1]) == pytest.approx(-1) and kendall(x, x[::-1]) == pytest.approx(-1)
    assert list(average_ranks([3.0, 1.0, 3.0, 2.0])) == [3.5, 1, 3.5, 2]
    assert kendall([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(5 * 6))  # tau-b with a tie
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_bootstrap_intervals_bracket_the_value_and_say_nothing_for_too_few_architectures():
    x = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    y = [0.15, 0.1, 0.35, 0.3, 0.6, 0.5, 0.75, 0.9]
    low, high = bootstrap_interval(x, y, spearman)
    assert low <= spearman(x, y) <= high <= 1 and low > 0
    assert bootstrap_interval(x, y, spearman, seed=0) == (low, high)  # seeded
    assert all(math.isnan(v) for v in bootstrap_interval(x[:3], y[:3], spearman))


def test_seed_agreement_is_how_well_one_seed_orders_what_the_others_mean_says():
    assert seed_agreement([[1.0, 1.1, 0.9], [2.0, 2.1, 1.9], [3.0, 3.1, 2.9]]) == pytest.approx(1)
    # seed 0 reverses what seeds 1 and 2 say, and each of them is reversed by the mean of seed 0 and the other
    swapped = seed_agreement([[3.0, 1.0, 1.0], [2.0, 2.0, 2.0], [1.0, 3.0, 3.0]])
    assert swapped < 0.5
    assert math.isnan(seed_agreement([[1.0, 2.0], [2.0, 3.0]]))  # two architectures
    assert math.isnan(seed_agreement([[1.0], [2.0], [3.0]]))  # one seed each


def _row(number, score, sd, seeds=3, macs=100):
    return Confirmed(number=number, baseline=None, search_score=0.0, search_se=None, g_macs=macs, score=score,
                     sd=sd, se=sd / math.sqrt(seeds), seeds=seeds, failed=0)


def test_the_best_confirmed_breaks_ties_within_noise_by_macs():
    rows = [_row(1, 1.0, 0.3, macs=900), _row(2, 1.1, 0.3, macs=100), _row(3, 5.0, 0.1, macs=1)]
    summary = Summary(rows, 80, 3, 0, (0, 0), 0, (0, 0), 1, 1, "same")
    pick, tied = best_confirmed(summary)
    assert pick.number == 2 and [r.number for r in tied] == [1]  # 1.0 and 1.1 tie; 5.0 is beyond noise
    rows[0].sd = rows[0].se = rows[1].sd = rows[1].se = 0.001
    assert best_confirmed(summary)[0].number == 1  # no tie: the best mean


def test_a_multi_objective_study_confirms_its_pareto_set_and_the_baseline():
    study = optuna.create_study(directions=["minimize", "minimize"])
    dist = {"x": CategoricalDistribution(list(range(10)))}
    for x, values, attrs in [(0, [1.0, 9.0], {"baseline": "dcgan"}), (1, [2.0, 1.0], {}), (2, [3.0, 3.0], {}),
                             (3, [0.5, 8.0], {}), (4, [0.5, 8.0], {})]:
        study.add_trial(create_trial(params={"x": x}, distributions=dist, values=values,
                                     user_attrs={**attrs, "score": values[0]}))  # the quality score is a value
    chosen = [t.number for t in candidates(study, top=5)]
    assert chosen == [3, 4, 1, 0]  # the front (3, 4 and 1; 2 is dominated), best score first, then the baseline
    assert [t.number for t in candidates(study, top=1)] == [3, 0]


# -- confirming a tiny study ----------------------------------------------------------------------------------


@pytest.fixture
def searched(tiny_study):
    path = tiny_study(n_trials=4, g_blocks="deconv", baseline="dcgan")
    run_study(path, progress=False)
    return path


def companion(path):
    return open_study(companion_config(load_config(path), 1), create=False)


def test_confirm_retrains_the_best_and_the_baseline_with_several_seeds_and_shows_how_the_ranking_held(searched):
    result = CliRunner().invoke(cli, ["confirm", str(searched), "--top", "3", "--seeds", "2", "--steps", "30"])
    assert result.exit_code == 0, result.output
    study = open_study(searched)
    chosen = {t.number for t in candidates(study, 3)}
    assert any(study.trials[n].user_attrs.get("baseline") for n in chosen)  # the baseline is confirmed too
    trials = companion(searched).get_trials()
    assert sorted((t.user_attrs["confirm_of"], t.user_attrs["replicate"]) for t in trials) == \
        sorted((n, s) for n in chosen for s in range(2))
    assert all(t.state == TrialState.COMPLETE and t.user_attrs["steps"] == 30 for t in trials)
    assert len({t.user_attrs["seed"] for t in trials}) == len(trials)  # from scratch: a seed of its own each
    assert all("fd_se" in t.user_attrs["metrics"] for t in trials)  # every metric with its standard error
    for n in chosen:  # seeds of one architecture differ
        assert len({t.value for t in trials if t.user_attrs["confirm_of"] == n}) == 2
    out = result.output
    assert "confirmed 3 architectures x 2 seeds at 30 steps (1.5x the search's 20)" in out
    assert "Spearman" in out and "Kendall" in out and "the search's best, trial" in out

    df = gansearch.trials_dataframe(searched)
    summary = df.attrs["confirmed"]
    assert sorted(r.number for r in summary.rows) == sorted(chosen) and summary.seeds == 2
    for r in summary.rows:
        scores = [t.value for t in trials if t.user_attrs["confirm_of"] == r.number]
        assert r.score == pytest.approx(sum(scores) / 2) and r.seeds == 2
        assert r.sd == pytest.approx(abs(scores[0] - scores[1]) / math.sqrt(2))
        row = df.set_index("number").loc[r.number]
        assert row["confirmed_score"] == pytest.approx(r.score) and row["confirmed_rank"] == r.rank
        assert row["confirmed_fd"] == pytest.approx(r.score) and row["confirmed_seeds"] == 2
    assert sorted(r.rank for r in summary.rows) == [1, 2, 3]
    assert df.loc[~df["number"].isin(chosen), "confirmed_score"].isna().all()
    ranked = sorted(summary.rows, key=lambda r: r.score)
    assert summary.spearman == pytest.approx(spearman([r.search_score for r in ranked], [r.score for r in ranked]))
    assert -1 <= summary.seed_agreement <= 1 and "one seed against the others' mean" in out

    best = CliRunner().invoke(cli, ["best", str(searched), "--confirmed"])
    assert best.exit_code == 0 and best.output.startswith("best confirmed trial: #")
    assert "confirmed: " in best.output and "rank " in best.output
    assert CliRunner().invoke(cli, ["trials", str(searched)]).output.splitlines()[0].split()[4] == "confirmed"


def test_confirm_resumes_and_adds_only_what_is_missing(searched):
    confirm_study(searched, top=1, seeds=2, steps=30, progress=False)
    first = companion(searched).get_trials()
    confirm_study(searched, top=1, seeds=2, steps=30, progress=False)  # done: nothing new
    assert len(companion(searched).get_trials()) == len(first)
    confirm_study(searched, top=1, seeds=3, steps=30, progress=False)  # one more seed each
    again = companion(searched).get_trials()
    assert len(again) == len(first) * 3 // 2 and [t.value for t in again[:len(first)]] == [t.value for t in first]
    wrong = CliRunner().invoke(cli, ["confirm", str(searched), "--top", "1", "--steps", "31"])
    assert wrong.exit_code == 2 and "trains 30 steps, not 31" in wrong.output and "--steps 30" in wrong.output


def test_ctrl_c_mid_confirmation_keeps_finished_seeds_and_a_rerun_trains_the_rest(searched, interrupt_trial):
    disarm = interrupt_trial(2)
    with pytest.raises(KeyboardInterrupt):
        confirm_study(searched, top=1, seeds=3, steps=30, progress=False)
    states = [t.state.name for t in companion(searched).get_trials()]
    assert states[:2] == ["COMPLETE", "FAIL"] and "COMPLETE" not in states[2:]
    disarm()
    summary = confirm_study(searched, top=1, seeds=3, steps=30, progress=False)
    trials = companion(searched).get_trials()
    chosen = candidates(open_study(searched), 1)  # the best and the baseline (one trial if the baseline is best)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == len(chosen) * 3
    assert all(r.seeds == 3 for r in summary.rows)
    result = CliRunner().invoke(cli, ["confirm", str(searched), "--top", "1", "--seeds", "3", "--steps", "30"])
    assert result.exit_code == 0 and "at 30 steps" in result.output  # the summary again, nothing retrained


def test_confirm_before_any_trial_finished_says_so(tiny_study):
    result = CliRunner().invoke(cli, ["confirm", str(tiny_study())])
    assert result.exit_code == 2 and "run `gansearch run" in result.output


def test_spherical_interpolation_joins_the_two_latents_along_the_sphere():
    import torch

    from gansearch.results._figures import slerp

    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 64, generator=g)
    path = slerp(z0, z1, torch.linspace(0, 1, 9))
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    middle = path[4].norm()  # a straight line's midpoint has about 1/sqrt(2) of the norm; the sphere keeps it
    assert middle > 0.9 * min(z0.norm(), z1.norm()) and (z0 + z1).norm() / 2 < 0.8 * middle


def test_a_confirmations_trial_time_limit_grows_with_its_steps(tiny_study):
    config = load_config(tiny_study(steps=20))
    assert companion_config(config, 80).trial_timeout is None
    budgeted = dataclasses.replace(config, timeout=25.0)
    assert companion_config(budgeted, 80).trial_limit == 100.0 and companion_config(budgeted, 80).timeout is None
    assert companion_config(dataclasses.replace(config, trial_timeout=5.0), 80).trial_limit == 20.0
