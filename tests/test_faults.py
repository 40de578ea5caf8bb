"""Faults a long study meets: damaged journals, emptied storage, full or unwritable disks, killed processes,
several runs on one database. Nothing finished may be lost, nothing may run twice."""

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.config import load_config
from gansearch.run import STOP_GRACE_S
from gansearch.run import _objective as objective
from gansearch.run import run_study
from gansearch.store import _artifacts as artifacts
from gansearch.store import _journal as journal
from gansearch.store import open_study, storage_exists

pytestmark = pytest.mark.slow  # subprocess runs killed, interrupted, starved of disk

ENV = {**os.environ, "GANSEARCH_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONUNBUFFERED": "1"}
CMD = [sys.executable, "-c", "from gansearch.cli import main; main()"]


@pytest.fixture
def copy_of(finished_study):
    return finished_study, finished_study.parent / "runs" / "tiny" / "journal.log"


def tear_last_record(log: Path):
    log.write_bytes(log.read_bytes()[:-25])


def append_garbage(log: Path):
    log.write_bytes(log.read_bytes() + b"\x00\x17garbage{{{ not json\n")


def insert_garbage(log: Path):
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:3] + [b"]]]{\"half\n", b"\xff\xfe\n"] + lines[3:]))


def torn_then_appended(log: Path):
    """A crash mid-write, then another run appended after the torn record (the two glue together)."""
    data = log.read_bytes()
    lines = data.splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]) + lines[-1][:-20] + lines[-1])


DAMAGE = {"torn last record": tear_last_record, "garbage appended": append_garbage,
          "garbage inserted": insert_garbage, "torn record, then more appended": torn_then_appended}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_journal_keeps_every_intact_record_and_the_study_goes_on(copy_of, damage):
    path, log = copy_of
    DAMAGE[damage](log)
    damaged = log.read_bytes()
    with pytest.warns(gansearch.GansearchWarning, match="repaired a damaged journal: kept"):
        df = gansearch.trials_dataframe(path)  # the first reader repairs it (no run is writing)
    # a torn final record leaves its trial running until a run finds it finished in its trial.json
    assert list(df["state"])[:1] == ["complete"] and set(df["state"]) <= {"complete", "running"}
    backups = list(log.parent.glob("journal.log.damaged-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == damaged  # the damaged original, set aside whole
    assert not journal.is_damaged(log)
    run_study(path, n_trials=3, progress=False)  # and the study goes on
    assert list(gansearch.trials_dataframe(path)["state"]) == ["complete"] * 3  # nothing finished was lost
    for command in (["trials", str(path)], ["best", str(path)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, result.output


def test_a_run_repairs_the_journal_before_it_writes(copy_of):
    path, log = copy_of
    insert_garbage(log)
    with pytest.warns(gansearch.GansearchWarning, match="repaired a damaged journal: kept"):
        run_study(path, n_trials=3, progress=False)
    assert (gansearch.trials_dataframe(path)["state"] == "complete").sum() == 3


def test_a_torn_record_glued_to_a_whole_one_keeps_the_whole_one():
    whole = b'{"op_code":4,"worker_id":"w","study_id":0,"datetime_start":"x"}'
    records, damaged, first = journal.scan(b'{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}\n'
                                           + whole[:17] + whole + b"\n")
    assert damaged == 1 and first == 1 and records[-1] == whole


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_a_lost_journal_is_rebuilt_from_the_trial_records_and_no_file_is_overwritten(copy_of, how):
    path, log = copy_of
    before = gansearch.trials_dataframe(path)
    old_png = (log.parent / "trials" / "00001" / "samples.png").read_bytes()
    log.write_bytes(b"") if how == "emptied" else log.unlink()
    with pytest.warns(gansearch.GansearchWarning, match="rebuilt 2 trials"):
        df = gansearch.trials_dataframe(path)  # any command rebuilds it, numbers, scores, times and files kept
    assert list(df["state"]) == ["complete"] * 2 and list(df["score"]) == list(before["score"])
    assert (df["duration_s"] > 0).all() and list(df["lr_g"]) == list(before["lr_g"])
    assert list(df["samples"]) == list(before["samples"])
    gansearch.load_generator(path, 1)  # their weights still load
    run_study(path, n_trials=3, progress=False)  # the study goes on; new trials, new files
    assert list(gansearch.trials_dataframe(path)["state"]) == ["complete"] * 3
    assert (log.parent / "trials" / "00001" / "samples.png").read_bytes() == old_png
    assert (log.parent / "trials" / "00002" / "samples.png").exists()


def test_a_lost_journal_beside_an_earlier_studys_files_moves_them_aside(copy_of):
    path, log = copy_of
    log.unlink()
    path.write_text(path.read_text().replace("widths: [8, 16]", "widths: [8, 12]"))  # another search space
    with pytest.warns(gansearch.GansearchWarning, match="earlier study with another search space"):
        run_study(path, n_trials=1, progress=False)
    moved = list(log.parent.glob("trials-before-*"))
    assert len(moved) == 1 and (moved[0] / "00001" / "trial.json").exists()
    assert len(gansearch.trials_dataframe(path)) == 1


def test_a_torn_record_that_created_a_trial_cuts_the_journal_and_the_trial_comes_back(copy_of):
    path, log = copy_of
    lines = log.read_bytes().splitlines(keepends=True)
    before = gansearch.trials_dataframe(path)
    lines = log.read_bytes().splitlines(keepends=True)
    second = [i for i, line in enumerate(lines) if line.startswith(b'{"op_code":4,')][1]  # creates trial 1
    lines[second] = lines[second][:20]  # torn; the next record is glued to it
    log.write_bytes(b"".join(lines))
    with pytest.warns(gansearch.GansearchWarning) as seen:
        df = gansearch.trials_dataframe(path)
    messages = " ".join(str(w.message) for w in seen)
    assert "may have created a trial were dropped" in messages and "trial(s) 1 were cut from the journal" in messages
    assert list(df["state"]) == ["complete", "complete"]
    assert df.loc[1, "restored_from"] == "trials/00001"  # under its own number, its files where they were
    assert list(df["lr_g"]) == list(before["lr_g"]) and df["g.strides"].notna().all()
    gansearch.load_generator(path, 1)
    run_study(path, n_trials=3, progress=False)  # new trial 2 writes trials/00002, over nothing
    assert (gansearch.trials_dataframe(path)["state"] == "complete").sum() == 3


def test_a_trial_whose_parameters_were_cut_comes_back_whole_from_its_record(copy_of):
    path, log = copy_of
    before = gansearch.trials_dataframe(path)
    lines = log.read_bytes().splitlines(keepends=True)
    first = [i for i, line in enumerate(lines) if line.startswith(b'{"op_code":4,')][0]  # creates trial 0
    lines[first + 1] = b'{"op_code":' + lines[first + 2]  # a torn record right after it: the cut takes its params
    del lines[first + 2]
    log.write_bytes(b"".join(lines))
    with pytest.warns(gansearch.GansearchWarning):
        df = gansearch.trials_dataframe(path)
    assert list(df["state"]) == ["complete", "complete"]  # nothing finished was lost, and no number moved
    assert list(df["score"]) == list(before["score"]) and list(df["lr_g"]) == list(before["lr_g"])
    assert df.loc[0, "datetime_start"] == before.loc[0, "datetime_start"]
    # its record is written just before Optuna's final record: the duration is a moment shorter, no more
    assert df.loc[0, "duration_s"] == pytest.approx(before.loc[0, "duration_s"], abs=0.5)


def flip_score_digit(log: Path, number: int) -> tuple[float, float]:
    """Change one digit of trial ``number``'s score in the journal, the record still valid JSON."""
    import json

    lines = log.read_bytes().splitlines(keepends=True)
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record["op_code"] == 6 and record.get("trial_id") == number and record.get("values"):
            old = record["values"][0]
            record["values"][0] = old + 0.1
            lines[i] = json.dumps(record).encode() + b"\n"
            log.write_bytes(b"".join(lines))
            return old, old + 0.1
    raise AssertionError("no final record of that trial")


@pytest.mark.parametrize("command", ["trials", "best"])
def test_a_flipped_score_in_the_journal_is_said_and_the_trials_record_trusted(copy_of, command):
    path, log = copy_of
    before = gansearch.trials_dataframe(path)
    right, wrong = flip_score_digit(log, 0)
    result = subprocess.run([*CMD, command, str(path)], env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "disagreed with the trials' own records" in line]
    assert len(warning) == 1 and f"trial 0: score {wrong} in the journal, {right} in trial.json" in warning[0]
    assert f"{wrong:.4g}" not in result.stdout
    with warnings_as_errors():  # said once: the journal now agrees with the records
        after = gansearch.trials_dataframe(path)
    assert list(after["score"]) == list(before["score"]) and list(after["number"]) == list(before["number"])
    assert len(list(log.parent.glob("journal.log.mismatch-*"))) == 1


@contextlib.contextmanager
def warnings_as_errors():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", gansearch.GansearchWarning)
        yield


def test_a_torn_final_record_is_finished_from_the_trial_record_by_any_command(copy_of):
    path, log = copy_of
    lines = log.read_bytes().splitlines(keepends=True)
    last_state = max(i for i, line in enumerate(lines) if b'"op_code":6' in line)  # trial 1's final state
    log.write_bytes(b"".join(lines[:last_state]))
    df = gansearch.trials_dataframe(path)
    assert list(df["state"]) == ["complete", "complete"] and df.loc[1, "score"] == pytest.approx(df.loc[1, "fd"])


def test_a_new_study_moves_an_earlier_studys_files_aside(copy_of):
    path, log = copy_of
    log.unlink()
    (log.parent / "trials" / "00000" / "trial.json").unlink()  # no records to restore trial 0 from
    (log.parent / "trials" / "00001" / "trial.json").unlink()
    old = (log.parent / "trials" / "00000" / "generator.pt").read_bytes()
    with pytest.warns(gansearch.GansearchWarning):
        run_study(path, n_trials=1, progress=False)
    moved = list(log.parent.glob("trials-before-*"))
    assert len(moved) == 1 and (moved[0] / "00000" / "generator.pt").read_bytes() == old


# -- full and unwritable disks ------------------------------------------------------------------------------

@pytest.mark.parametrize("output", ["/proc/gansearch-test", "a_file/runs"])
def test_an_output_folder_that_cannot_be_created_is_one_line_before_training(tmp_path, tiny_study, output):
    path = tiny_study()
    (tmp_path / "a_file").write_text("not a folder")
    path.write_text(path.read_text() + f"output: {output}\n")
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: {path}: output: ") and len(result.output.strip().splitlines()) == 1


def test_artifacts_that_cannot_be_saved_fail_the_trial_with_the_cause(tiny_study):
    path = tiny_study(n_trials=2)
    trials = path.parent / "runs" / "tiny" / "trials"
    trials.parent.mkdir(parents=True)
    trials.write_text("a file where the trials folder should be")
    with pytest.raises(gansearch.GansearchError, match="5 trials in a row failed"):
        run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert (df["failure"].str.contains("cannot save the trial's artifacts") & df["failure"].str.contains(
        "Not a directory|File exists")).all()


@contextlib.contextmanager
def tiny_disk(folder: Path, size="1m"):
    """A real tmpfs of ``size`` at ``folder`` where this machine allows mounting (root in CI), else None."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0 if shutil.which("mount") else False
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_the_storage_readable(tmp_path, tiny_study, monkeypatch):
    path = tiny_study(n_trials=40)
    disk = tmp_path / "disk"
    path.write_text(path.read_text() + f"output: {disk}/run\n")
    with tiny_disk(disk) as real:
        if not real:  # no tmpfs here: the disk fills after two trials
            saved = {"n": 0}
            real_save = artifacts.save_trial

            def save(*args, **kwargs):
                saved["n"] += 1
                if saved["n"] > 2:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real_save(*args, **kwargs)

            monkeypatch.setattr(objective, "save_trial", save)
        result = CliRunner().invoke(cli, ["run", "--no-progress", str(path)])
        assert result.exit_code == 1 and result.output.strip(), (result.output, result.exception, result.stderr)
        (error,) = [line for line in result.output.splitlines() if line.startswith("Error: ")]
        assert "the disk is full" in error and "No space left on device" in error
        assert "Traceback" not in result.output
        df = gansearch.trials_dataframe(path)  # the storage is readable, finished trials kept
        complete = df[df["state"] == "complete"]
        assert len(complete) >= 1 and len(df) < 40
        for n in complete["number"]:
            gansearch.load_generator(path, int(n))
        if real:  # space freed: the same command resumes, every finished trial still there
            subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
            result = CliRunner().invoke(cli, ["run", "--no-progress", "--n-trials", str(len(df) + 2), str(path)])
            assert result.exit_code == 0, result.output
            after = gansearch.trials_dataframe(path)
            assert (after["state"] == "complete").sum() >= len(complete) + 2


# -- processes and signals ---------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_for(condition, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def start_run(path: Path, *extra) -> subprocess.Popen:
    """``gansearch run`` as from a terminal: SIGINT handled as usual, even if this suite was started in
    the background (where the shell makes children ignore SIGINT)."""
    return subprocess.Popen([*CMD, "run", "--no-progress", *extra, str(path)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def running_trials(path: Path) -> int:
    config = load_config(path)
    if not storage_exists(config):
        return 0
    try:
        study = open_study(load_config(path), create=False)
    except Exception:  # noqa: BLE001 - not created yet
        return 0
    return sum(t.state.name == "RUNNING" for t in study.get_trials(deepcopy=False))


@pytest.fixture
def long_study(tiny_study):
    """Two workers on trials long enough to be caught mid-training."""
    return tiny_study(n_trials=6, workers=2, steps=20000)


def workers_started(proc, path):
    assert wait_for(lambda: running_trials(path) >= 2 and len(children(proc.pid)) >= 2, 120), "no trials started"
    return [c for c in children(proc.pid) if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_never_outlive_their_run(long_study, sig):
    proc = start_run(long_study)
    workers = workers_started(proc, long_study)
    os.kill(proc.pid, sig)
    killed = time.monotonic()
    proc.wait(timeout=30)
    # each worker first records its trial's failure and artifacts (fsync'd journal writes, taking turns at
    # the journal's lock): 2 s here, more on a busy machine; left alone they would train for minutes
    gone = wait_for(lambda: not any(alive(w) for w in workers), 30)
    for w in workers:  # none left behind to slow the rest of the suite, whatever happened
        with contextlib.suppress(OSError):
            os.kill(w, signal.SIGKILL)
    assert gone, f"workers outlived their run by {time.monotonic() - killed:.0f} s"
    df = gansearch.trials_dataframe(long_study)
    failures = df.loc[df["state"] == "fail", "failure"]
    if sig == signal.SIGTERM:  # like Ctrl-C: the running trials were recorded as failed, with the reason
        assert proc.returncode == 143, proc.stdout.read()
        assert (df["state"] == "running").sum() == 0 and len(failures) >= 1
        assert (failures == "interrupted (SIGTERM)").all(), failures
    else:  # the workers heard of their run's death and said so
        assert (failures == "interrupted (the run was killed)").all() and len(failures) >= 1, failures


def test_sigint_to_the_run_alone_stops_it_within_seconds(long_study):
    proc = start_run(long_study)
    workers = workers_started(proc, long_study)
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)  # not to its process group: the workers must hear it from the run
    proc.wait(timeout=30)
    # a second for a terminal's Ctrl-C to reach the workers, then theirs, then STOP_GRACE_S to record
    # their trials (about 3.5 s in all here); left alone the trials would train for minutes
    took = time.monotonic() - started
    assert took < 1 + STOP_GRACE_S + 3 and proc.returncode == 130, f"stopped after {took:.1f} s"
    assert not any(alive(w) for w in workers)
    df = gansearch.trials_dataframe(long_study)
    assert (df["state"] == "running").sum() == 0


def test_a_killed_worker_is_reported_its_trial_rerun_and_the_others_go_on(tiny_study):
    path = tiny_study(n_trials=5, workers=2, steps=1500)
    proc = start_run(path)
    workers_started(proc, path)
    running = [t for t in open_study(load_config(path), create=False).get_trials(deepcopy=False)
               if t.state.name == "RUNNING" and "worker" in t.user_attrs]
    victim = int(running[0].user_attrs["worker"].split(":")[-1].split("@")[0])  # mid-trial
    os.kill(victim, signal.SIGKILL)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    assert "was killed by SIGKILL" in output
    df = gansearch.trials_dataframe(path)
    killed = df[df["failure"].fillna("").str.contains("killed by SIGKILL")]
    assert len(killed) == 1 and (df["state"] == "complete").sum() >= 5
    rerun = df[df["rerun_of"] == killed["number"].iloc[0]] if "rerun_of" in df else df.iloc[0:0]
    assert len(rerun) == 1 and rerun["state"].iloc[0] == "complete"


# -- several runs on one database --------------------------------------------------------------------------

def params_of(path):
    return [tuple(sorted(t.params.items())) for t in open_study(load_config(path), create=False).trials]


def test_two_runs_on_one_sqlite_study_never_propose_the_same_trial(tiny_study, tmp_path):
    path = tiny_study(n_trials=8, lr_g="{low: 1.0e-4, high: 1.0e-3, log: true}")
    path.write_text(path.read_text() + f"storage: sqlite:///{tmp_path / 'shared.db'}\n")
    procs = [start_run(path) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    df = gansearch.trials_dataframe(path)
    assert df["worker"].nunique() == 2 and (df["state"] == "complete").sum() >= 8
    params = params_of(path)
    assert len(params) == len(set(params)), "two trials with identical parameters"


def test_a_write_that_fails_midway_leaves_the_old_file_whole_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "generator.pt"
    target.write_bytes(b"the old weights")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        journal.write_atomically(target, b"new weights, half written")
    assert target.read_bytes() == b"the old weights" and [p.name for p in tmp_path.iterdir()] == ["generator.pt"]


# -- folders that cannot be written, or vanish -------------------------------------------------------------

def read_only_runner(folder: Path):
    """A function running a gansearch command with ``folder`` read-only to it: a read-only bind mount in a
    mount namespace of its own (root, as in CI), else the folder's write bits removed (another user)."""
    probe = ["unshare", "-m", "sh", "-c", f"mount --bind '{folder}' '{folder}' && "
             f"mount -o remount,bind,ro '{folder}' '{folder}' && ! touch '{folder}/.probe' 2>/dev/null"]
    if shutil.which("unshare") and subprocess.run(probe, capture_output=True).returncode == 0:
        def run(*args):
            inner = " ".join(f"'{a}'" for a in [*CMD, *args])
            return subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind '{folder}' '{folder}' && mount -o "
                                   f"remount,bind,ro '{folder}' '{folder}' && exec {inner}"],
                                  env=ENV, capture_output=True, text=True, timeout=600)
        return run
    if os.geteuid() != 0:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        return lambda *args: subprocess.run([*CMD, *args], env=ENV, capture_output=True, text=True, timeout=600)
    pytest.skip("no way to make a folder read-only to root here (unshare -m is not allowed)")


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_a_read_only_study_folder_is_read_without_writing_to_it(finished_study, tmp_path):
    folder = finished_study.parent
    before = snapshot(folder)
    run = read_only_runner(folder)
    report = tmp_path / "elsewhere" / "report.html"
    for args in (["trials", str(finished_study)], ["best", str(finished_study)],
                 ["report", str(finished_study), "-o", str(report)]):
        result = run(*args)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr[-2000:])
    assert "complete" in run("trials", str(finished_study)).stdout
    assert report.stat().st_size > 10_000
    assert snapshot(folder) == before


def test_exporting_a_trial_whose_folder_was_deleted_is_one_line_naming_the_file(finished_study, tmp_path):
    shutil.rmtree(finished_study.parent / "runs" / "tiny" / "trials" / "00000")
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", str(finished_study), "--trial", "0", "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output, result.output
    assert "trial 0's weights are missing" in lines[0] and "trials/00000/generator.pt" in lines[0]
    assert not out.exists()


def test_a_sqlite_rerun_after_sigkill_fails_the_dead_trial_at_once_and_reaches_n_trials(tiny_study, tmp_path):
    path = tiny_study(n_trials=2, steps=4000)
    path.write_text(path.read_text() + f"storage: sqlite:///{tmp_path / 'study.db'}\n")
    proc = start_run(path)
    assert wait_for(lambda: running_trials(path) >= 1, 120), "no trial started"
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to record anything: the trial stays RUNNING
    proc.wait(timeout=30)
    assert running_trials(path) == 1
    rerun = subprocess.run([*CMD, "run", "--no-progress", str(path)], env=ENV, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() == 2 and (df["state"] == "running").sum() == 0, df[["state"]]
    assert list(df.loc[df["state"] == "fail", "failure"]) == ["interrupted: the run was killed mid-trial"]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_output_folder_deleted_mid_run_stops_it_with_one_line(tiny_study, workers):
    path = tiny_study(n_trials=6, workers=workers, steps=3000)
    proc = start_run(path)
    assert wait_for(lambda: running_trials(path) >= workers, 120), "no trial started"
    gone = path.parent / "gone"
    (path.parent / "runs" / "tiny").rename(gone)  # at once, as `rm -rf` is from the run's view
    shutil.rmtree(gone, ignore_errors=True)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    assert lines[0].startswith(f"Error: {path}: the run stopped: ") and "was deleted while the run wrote to it" in lines[0]
    assert not (path.parent / "runs" / "tiny" / "trials").exists()  # no stray trial folder made again


# -- a plugin that hangs -------------------------------------------------------------------------------------

HANGS_ONCE = '''
import os
import signal
import time

import torch.nn as nn
import gansearch

MARK = {mark!r}


class HangsOnce(nn.Module):
    """A deconv whose first training forward, in any process, never returns ({how})."""

    def __init__(self, a):
        super().__init__()
        self.up = nn.ConvTranspose2d(a.in_channels, a.out_channels, 4, 2, 1)

    def forward(self, x):
        if self.training and not os.path.exists(MARK):
            open(MARK, "w").close()
            if {how!r} == "gil":  # inside C code holding the interpreter lock: no other thread runs either
                import ctypes

                signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGALRM, signal.SIGINT}})
                ctypes.PyDLL(None).sleep(3600)
            if {how!r} == "c":  # as a hang inside C code would be: no signal handler runs
                signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGALRM, signal.SIGINT}})
            time.sleep(3600)
        return self.up(x)


@gansearch.hookimpl
def register_blocks(register):
    register(gansearch.Block("hangs_once", HangsOnce, scale="up", kernels=(4,), strides=(2,)))
'''


def hanging_study(tiny_study, tmp_path, how: str, workers: int, limit: float):
    """``how``: "python" (a sleep), "c" (signals blocked, as in C code), "gil" (C code holding the GIL)."""
    (tmp_path / "hangs.py").write_text(HANGS_ONCE.format(mark=str(tmp_path / "hung"), how=how))
    path = tiny_study(n_trials=2, plugins="[hangs.py]", g_blocks="hangs_once", workers=workers)
    text = path.read_text().replace("kernels: [3, 4], strides: [1, 2], depth: {low: 1, high: 2}",
                                    "kernels: [4], strides: [2], depth: 1")
    path.write_text(text + f"trial_timeout: {limit}\n")
    return path


def test_a_trial_that_hangs_fails_at_its_time_limit_and_the_run_goes_on(tiny_study, tmp_path):
    path = hanging_study(tiny_study, tmp_path, "python", workers=1, limit=3)
    started = time.monotonic()
    run_study(path, progress=False)
    took = time.monotonic() - started
    df = gansearch.trials_dataframe(path)
    assert list(df["state"]) == ["fail", "complete", "complete"] and took < 120, (df[["state", "failure"]], took)
    assert df.loc[0, "failure"] == "TrialTimedOut: timed out: the trial ran longer than its limit of 3 s (trial_timeout)"


@pytest.mark.parametrize("how", ["c", "gil"])
def test_a_trial_hung_where_no_signal_reaches_has_its_worker_replaced(tiny_study, tmp_path, how):
    """Its worker's watchdog thread ends it ("c"), or, when that thread cannot run either ("gil"), the
    run's supervisor kills it; either way a new worker takes its place."""
    path = hanging_study(tiny_study, tmp_path, how, workers=2, limit=2)
    started = time.monotonic()
    run_study(path, progress=False)
    took = time.monotonic() - started
    df = gansearch.trials_dataframe(path)
    failed = df[df["state"] == "fail"]
    assert len(failed) == 1 and (df["state"] == "complete").sum() == 2 and took < 180, (df[["state", "failure"]], took)
    assert failed["failure"].iloc[0] == ("timed out: the trial ran longer than its limit of 2 s (trial_timeout) and "
                                         "could not be interrupted; its worker was replaced")


def test_a_run_training_in_its_own_process_stops_with_one_line_for_a_trial_no_signal_reaches(tiny_study, tmp_path):
    path = hanging_study(tiny_study, tmp_path, "c", workers=1, limit=2)
    result = subprocess.run([*CMD, "run", "--no-progress", str(path)], env=ENV, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {path}: the run stopped: trial 0 ran past its time limit of 2 s where it could not be interrupted "
        "(inside C code); it was failed, finished trials are kept: run the same command again to resume")
    again = subprocess.run([*CMD, "run", "--no-progress", str(path)], env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    df = gansearch.trials_dataframe(path)
    assert list(df["state"]) == ["fail", "complete", "complete"]
    assert df.loc[0, "failure"].endswith("could not be interrupted; the run stopped")


def test_a_healthy_study_is_never_rewritten_by_the_cross_check(tiny_study):
    """Single- and multi-objective (which report nothing to Optuna between evaluations): no warning, no
    rewrite, however often it is opened, and what only the journal holds (artifacts_s) is kept."""
    for objectives in ("", "objectives: [score, g_macs]\n"):
        path = tiny_study(name=f"study{len(objectives)}.yaml", n_trials=2)
        path.write_text(path.read_text().replace("name: tiny", f"name: tiny{len(objectives)}") + objectives)
        with warnings_as_errors():
            run_study(path, progress=False)
            for _ in range(2):
                df = gansearch.trials_dataframe(path)
        assert (df["state"] == "complete").sum() == 2 and df["artifacts_s"].notna().all()
        assert not list(path.parent.glob("runs/*/journal.log.mismatch-*"))


def test_a_damaged_trial_record_never_stops_a_study_from_opening(copy_of):
    path, log = copy_of
    record = log.parent / "trials" / "00000" / "trial.json"
    import json

    data = json.loads(record.read_text())
    data.update(user_attrs=None, value="not a number")
    record.write_text(json.dumps(data))
    df = gansearch.trials_dataframe(path)
    assert (df["state"] == "complete").sum() == 2


def test_a_renamed_study_beside_the_old_ones_records_opens_as_not_run_yet(copy_of):
    path, log = copy_of
    path.write_text(path.read_text().replace("name: tiny", "name: renamed") + f"output: {log.parent}\n")
    result = CliRunner().invoke(cli, ["trials", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "study 'renamed' not found" in result.stderr


def test_best_says_when_a_trials_files_are_missing(finished_study):
    shutil.rmtree(finished_study.parent / "runs" / "tiny" / "trials" / "00000")
    result = CliRunner().invoke(cli, ["best", str(finished_study), "--trial", "0"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith(("samples:", "generator weights:"))]
    assert len(lines) == 2 and all(line.endswith("(missing: was the trial's folder deleted or moved?)") for line in lines)
