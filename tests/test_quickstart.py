"""The README's quickstart, run for real once per test session, and what a user does with its results."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.config import load_config
from gansearch.nets import ArchSpec, build_pair
from gansearch.results import best_trial
from gansearch.score import Scorer
from gansearch.store import open_study
from gansearch.study import prepare

pytestmark = pytest.mark.slow  # runs the quickstart (a minute on 2 cores)

QUICKSTART = Path(__file__).parents[1] / "studies" / "quickstart.yaml"


def test_quickstart_finishes_its_trials_and_prints_the_best(quickstart):
    path, result = quickstart
    df = gansearch.trials_dataframe(path)
    assert df["state"].isin(["complete", "pruned"]).sum() >= 10
    assert "best 5 trials (lower score is better; 'tie': within two standard errors of the best):" in result.output
    best = df.loc[df["score"].idxmin()]
    assert f"{best['score']:.4g} ± {best['score_se']:.2g}" in result.output
    results = f"results in {Path(best['samples']).parents[2]}"  # named once; the table's paths are within it
    assert results in result.output and f"trials/{int(best['number']):05d}/samples.png" in result.output
    baseline = df[df["baseline"] == "dcgan"]
    assert list(baseline["number"]) == [0]  # the hand design is trial 0, complete, and in the table
    assert baseline["state"].item() == "complete" and "baseline" in result.output
    if best["number"] != 0:
        assert f"best/baseline: {best['score'] / baseline['score'].item():.3g}" in result.output


def test_complete_trials_carry_every_metric_with_its_standard_error(quickstart):
    path, _ = quickstart
    df = gansearch.trials_dataframe(path)
    done = df[df["state"] == "complete"]
    for name in ("fd", "kid", "precision", "recall", "coverage", "class_entropy", "fd@classifier"):
        assert done[name].notna().all() and (done[f"{name}_se"] >= 0).all(), name
    assert (done["score"] == done["fd"]).all() and (done["score_se"] == done["fd_se"]).all()
    assert done["coverage"].between(1, 10).all() and done.loc[done["score"].idxmin(), "tie"]


def test_trained_generator_scores_far_better_than_the_same_generator_untrained(quickstart):
    path, _ = quickstart
    best = best_trial(path)
    prepared = prepare(path)
    scorer = Scorer.for_study(prepared)
    untrained, _ = build_pair(ArchSpec.from_dict(best.user_attrs["arch"]), prepared.registry, best.user_attrs["seed"])
    before = scorer.score(untrained)
    after = scorer.score(gansearch.load_generator(path))  # rebuilt from storage alone
    assert after == pytest.approx(best.value, rel=1e-6)
    assert after * 10 < before, f"trained {after:.4g} vs untrained {before:.4g}"


def test_dataframe_has_one_column_per_parameter_and_the_derived_columns(quickstart):
    path, _ = quickstart
    df = gansearch.trials_dataframe(path)
    for column in ("number", "state", "score", "duration_s", "g.strides", "g.0.block", "g.0.kernel", "d.0.kernel",
                   "lr_g", "loss", "g.0.stride", "d.0.stride", "g_params", "d_params", "steps", "pruned_at", "failure",
                   "samples", "generator"):
        assert column in df.columns, column
    complete = df[df["state"] == "complete"]
    assert (complete["steps"] == 300).all() and complete["pruned_at"].isna().all()
    assert all(Path(p).exists() for p in df["samples"])
    assert df["g_params"].min() > 1000


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_trials_export_round_trips_through_pandas(quickstart, fmt, tmp_path):
    path, _ = quickstart
    out = tmp_path / f"trials.{fmt}"
    result = CliRunner().invoke(cli, ["trials", str(path), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    df = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[fmt](out)
    expected = gansearch.trials_dataframe(path)
    assert list(df["number"]) == list(expected["number"])
    assert df["score"].round(6).tolist() == pytest.approx(expected["score"].round(6).tolist(), nan_ok=True)


def test_trials_table_and_best_print_for_people(quickstart):
    path, _ = quickstart
    table = CliRunner().invoke(cli, ["trials", str(path)])
    assert table.exit_code == 0 and table.output.split()[0] == "number"
    best = CliRunner().invoke(cli, ["best", str(path)])
    trial = best_trial(path)
    assert best.exit_code == 0
    assert best.output.startswith(f"best trial: #{trial.number}  score {trial.value:.4g} ± ")
    assert "metrics: fd " in best.output and "fd@classifier" in best.output
    assert "generator:" in best.output and "discriminator:" in best.output and "head: linear -> 1 logit" in best.output
    info = json.loads(CliRunner().invoke(cli, ["best", str(path), "--json"]).output)
    assert info["number"] == trial.number and info["arch"] == trial.user_attrs["arch"]


def test_pruned_trials_never_count_as_best(quickstart):
    path, result = quickstart
    df = gansearch.trials_dataframe(path)
    complete = df[df["state"] == "complete"]
    assert best_trial(path).number == complete.loc[complete["score"].idxmin(), "number"]
    table = result.output.split("best ")[-1]
    for number in df[df["state"] == "pruned"]["number"]:
        assert f"\n {number:>6} " not in table and f"\n{number:>7} " not in table


def test_one_worker_runs_of_the_quickstart_are_identical(tmp_path):
    """With one worker and a fixed seed, two runs give identical parameters and scores for every trial."""
    runs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(QUICKSTART, folder / "quickstart.yaml")
        result = CliRunner().invoke(cli, ["run", str(folder / "quickstart.yaml"), "--workers", "1", "--n-trials", "3",
                                          "--no-progress"])
        assert result.exit_code == 0, result.output
        study = open_study(load_config(folder / "quickstart.yaml"), create=False)
        runs.append([(t.params, t.value, t.intermediate_values) for t in study.trials])
    assert runs[0] == runs[1] and len(runs[0]) == 3
