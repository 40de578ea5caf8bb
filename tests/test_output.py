"""Output that fits a terminal (issue 17): a compact trial table with columns on request, a line per finished
trial where a progress bar would redraw into a log, and every -o says what it wrote."""

import io
import json
import warnings

import pytest
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.run._progress import LineProgress, progress_bar


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def test_the_trial_table_is_compact_by_default_with_any_columns_on_request(finished_study):
    table = invoke("trials", finished_study).output
    header = table.splitlines()[0].split()
    assert header[:3] == ["number", "state", "score"] and "g_params" in header and "duration_s" in table
    assert max(len(line) for line in table.splitlines()) < 140
    assert "±" in table  # the score with its standard error
    every = invoke("trials", finished_study, "--all").output
    assert len(every.splitlines()[0].split()) > 3 * len(header)
    picked = invoke("trials", finished_study, "--columns", "number,g.0.block,lr_g").output
    assert picked.splitlines()[0].split() == ["number", "g.0.block", "lr_g"]
    wrong = invoke("trials", finished_study, "--columns", "number,nope")
    assert wrong.exit_code == 2 and "no column 'nope'" in wrong.output and "g.0.block" in wrong.output


def test_the_format_follows_the_output_file_s_extension_and_every_o_says_what_it_wrote(finished_study, tmp_path):
    for name, check in (("t.csv", lambda text: text.startswith("number,state,score")),
                        ("t.json", lambda text: json.loads(text)[0]["number"] == 0)):
        result = invoke("trials", finished_study, "-o", tmp_path / name)
        assert result.exit_code == 0 and f"wrote {tmp_path / name}" in result.output
        assert check((tmp_path / name).read_text())
    result = invoke("schema", "-o", tmp_path / "schema.json")
    assert result.exit_code == 0 and f"wrote {tmp_path / 'schema.json'}" in result.output
    result = invoke("report", finished_study, "-o", tmp_path / "r.html")
    assert f"wrote {tmp_path / 'r.html'}" in result.output


def test_progress_is_a_line_per_finished_trial_when_stderr_is_not_a_terminal():
    log = io.StringIO()
    bar = progress_bar(3, 0, "study", log)
    assert isinstance(bar, LineProgress)
    bar.set_postfix_str("best 0.25")
    bar.update(2)
    bar.write("trial 1 failed: because")
    assert log.getvalue().splitlines() == ["study: 1/3 trials finished; best 0.25", "study: 2/3 trials finished; best 0.25",
                                           "trial 1 failed: because"]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert not isinstance(progress_bar(3, 0, "study", Terminal()), LineProgress)


def test_a_run_s_log_has_one_progress_line_per_finished_trial(tiny_study):
    result = invoke("run", tiny_study(n_trials=3))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "trials finished" in line]
    assert [line.split(":")[1].split()[0] for line in lines] == ["1/3", "2/3", "3/3"]


def test_best_shows_any_trial_on_request(finished_study):
    shown = invoke("best", finished_study, "--trial", "1")
    assert shown.exit_code == 0 and shown.output.startswith("trial: #1")
    for command in (["best"], ["export", "-o", finished_study.parent / "x"]):  # a trial it lacks: exit 2
        missing = invoke(*command, finished_study, "--trial", "99")
        assert missing.exit_code == 2 and "no trial number 99" in missing.output, command
    assert not (finished_study.parent / "x").exists()


def test_a_translate_study_with_few_held_out_pairs_is_warned_that_its_scores_are_noisy(tiny_study):
    from gansearch.study import prepare

    path = tiny_study()
    path.write_text(path.read_text().replace("generator: {blocks:", "task: translate\ntranslate: {condition: blur, "
                                             "held_out: 0.005}\ngenerator: {blocks:").replace("metrics: [fd]",
                                                                                          "objective: l1"))
    with pytest.warns(gansearch.GansearchWarning, match="only 10 of the 1797 pairs are held out"):
        prepare(path, run=True)  # one of each digit: the held-out pairs are drawn class by class
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepare(path)  # said by a run, not by every command that reads the study
