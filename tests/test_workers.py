"""Several worker processes on one study, the journal storage, interrupted runs, memory over many trials."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.config import load_config
from gansearch.run import _progress as progress
from gansearch.run import run_study
from gansearch.store import open_study, run_lock

pytestmark = pytest.mark.slow  # worker processes and subprocess runs


def test_two_worker_processes_share_one_study(tiny_study):
    path = tiny_study(n_trials=6, workers=2)
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() >= 6 and (df["state"] == "fail").sum() == 0
    assert df["worker"].nunique() == 2 and df["worker"].str.endswith("@cpu").all()
    assert len(set(map(json.dumps, df["number"].map(lambda n: df.loc[n].filter(like="g.").to_dict())))) > 1
    # the journal is an ordinary Optuna storage: Optuna's own tools read it
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(path.parent / "runs" / "tiny" / "journal.log")))
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == len(df)


def test_trials_left_running_by_a_killed_run_are_marked_failed(tiny_study):
    path = tiny_study(n_trials=2)
    config = load_config(path)
    orphan = open_study(config, create=True).ask()  # as if the process died mid-trial
    orphan.set_user_attr("arch", {})
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert df.loc[0, "state"] == "fail" and df.loc[0, "failure"] == "interrupted: the run was killed mid-trial"
    assert (df["state"] == "complete").sum() == 2


def test_a_second_run_of_the_same_study_is_refused(tiny_study):
    path = tiny_study(n_trials=1)
    config = load_config(path)
    with run_lock(config):
        with pytest.raises(gansearch.GansearchError, match="another `gansearch run` is running this study"):
            run_study(path, progress=False)


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_worker_holds_no_more_memory_after_50_trials_than_after_its_first(tiny_study, monkeypatch):
    path = tiny_study(n_trials=50)
    path.write_text(path.read_text().replace("steps: 20, eval_every: 10", "steps: 4, eval_every: 2"))
    rss = []
    real_show = progress.show

    def record(bar, trials, trial=None):
        rss.append(rss_bytes())
        real_show(bar, trials, trial)

    monkeypatch.setattr(progress, "show", record)
    run_study(path, progress=True)
    assert len(rss) == 50
    grown = rss[-1] - rss[0]
    assert grown < 40 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB from trial 1 to trial 50"


def test_bench_compares_the_reference_loop_and_gansearch_in_one_run(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "--device", "cpu", "--resolution", "16", "--steps", "10",
                                      "--trials", "6", "--workers", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["config"]["workers"] == 2 and data["gansearch"]["modes"] == ["eager"]
    for side in ("naive", "gansearch"):
        assert data[side]["study_img_s"] > 0 and data[side]["trials_per_hour"] > 0
    assert data["ratio_study"] == pytest.approx(data["gansearch"]["study_img_s"] / data["naive"]["study_img_s"])
    assert "whole study, img/s" in result.output and "b/a" in result.output and data["peak_tflops"] > 0
    # the classic loop is timed on a few trials, not the whole study; gansearch's trial time is broken down
    assert data["naive"]["timed_trials"] == 3 and "(a) timed on 3 trial(s)" in result.output
    single = data["gansearch"]["single_seconds"]
    assert single["build"] + single["setup"] + single["train"] <= single["total"] + 1e-6
    assert 0 < data["gansearch"]["study_setup_share"] < 1 and "setup is" in result.output


def test_bench_can_measure_gansearch_in_bf16(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "--device", "cpu", "--resolution", "16", "--steps", "10",
                                      "--trials", "2", "--workers", "1", "--precision", "bf16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["config"]["precision"] == "bf16" and "precision: bf16" in result.output


def test_an_rdb_storage_url_works_too(tiny_study, tmp_path):
    path = tiny_study(n_trials=2)
    path.write_text(path.read_text() + f"storage: sqlite:///{tmp_path / 'shared.db'}\n")
    run_study(path, progress=False)
    assert (tmp_path / "shared.db").exists()
    assert list(gansearch.trials_dataframe(path)["state"]) == ["complete", "complete"]


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database (.ci/run starts the server and sets GANSEARCH_TEST_POSTGRES)."""
    base = os.environ.get("GANSEARCH_TEST_POSTGRES")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("CI must provide PostgreSQL: .ci/run sets GANSEARCH_TEST_POSTGRES")
        pytest.skip("set GANSEARCH_TEST_POSTGRES=postgresql://user:password@localhost/postgres to run")
    import psycopg

    name = f"gansearch_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base.replace("postgresql://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_runs_on_three_machines_share_one_postgresql_study_without_duplicates(tiny_study, postgres_url):
    """Three `gansearch run` processes (as on three machines) on one PostgreSQL storage reach n_trials
    together, and no two of their trials have the same parameters."""
    path = tiny_study(n_trials=12, lr_g="{low: 1.0e-4, high: 1.0e-3, log: true}")
    path.write_text(path.read_text() + f"storage: {postgres_url}\n")
    env = {**os.environ, "GANSEARCH_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-c", "from gansearch.cli import main; main()", "run", "--no-progress", str(path)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() >= 12 and (df["state"] == "fail").sum() == 0
    assert df["worker"].nunique() == 3
    params = [tuple(sorted(t.params.items())) for t in open_study(load_config(path), create=False).trials]
    assert len(params) == len(set(params)), "two trials with identical parameters"
