"""gansearch report (issue 10): one self-contained HTML file, checked as a person sees it, in headless
Chromium (Debian's chromium package; .ci/run installs it)."""

import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

import gansearch
from gansearch.cli import cli
from gansearch.run import run_study

pytestmark = pytest.mark.slow  # runs a study, confirms it, and opens its report in a browser


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        if os.environ.get("GANSEARCH_SKIP_BROWSER") == "1":
            pytest.skip("GANSEARCH_SKIP_BROWSER=1: no headless Chromium here")
        pytest.fail("the report test opens the report in headless Chromium: apt-get install chromium "
                    "(or set GANSEARCH_SKIP_BROWSER=1 to skip it knowingly)")
    return found


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A finished multi-objective study with a baseline and pruned trials, and its report."""
    from conftest import tiny_study_text

    folder = tmp_path_factory.mktemp("report")
    path = folder / "study.yaml"
    path.write_text(tiny_study_text(n_trials=8, baseline="dcgan", metrics="[fd, checkerboard]")
                    .replace("pruner: none", "pruner: median") + "objectives: [score, g_macs]\n")
    run_study(path, progress=False)
    confirmed = CliRunner().invoke(cli, ["confirm", str(path), "--top", "2", "--seeds", "2", "--steps", "30",
                                         "--no-progress"])
    assert confirmed.exit_code == 0, confirmed.output
    result = CliRunner().invoke(cli, ["report", str(path), "-o", str(folder / "report.html")])
    assert result.exit_code == 0, result.output
    return path, folder / "report.html"


def test_the_report_opens_offline_without_console_errors_and_every_plot_renders(reported):
    _, report = reported
    text = report.read_text()
    images = text.count("<img ")
    assert images >= 10  # history, importances, choices, front, sample grids, confirmation, interpolations, spectra
    assert 'alt="latent interpolations"' in text  # counted among the images that must render
    proc = subprocess.run([browser(), "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", "--virtual-time-budget=5000", "--dump-dom", report.as_uri()],
                          capture_output=True, text=True, timeout=120)
    body = re.search(r"<body[^>]*>", proc.stdout)
    assert body, proc.stderr[-2000:]
    assert f'data-rendered="{images}/{images}"' in body.group(0), body.group(0)
    assert "data-errors" not in body.group(0)
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert any(f"rendered {images} of {images} images" in line for line in console), console
    assert not [line for line in console if "ERROR:CONSOLE" in line or "Uncaught" in line], console


def test_the_report_is_self_contained_and_has_every_section(reported):
    _, report = reported
    text = report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from anywhere
    assert "<link" not in text and "<script src" not in text
    for title in ("Optimisation history", "Parameter importances", "Architectural choices", "Quality against cost",
                  "Pruned and failed trials", "Best trials", "Does the short training predict the long one?",
                  "Latent space", "Power spectra", "Checkerboard artifacts per upsampling block"):
        assert f"<h2>{title}</h2>" in text
    assert "(dcgan baseline)" in text and "<table class='layers'>" in text


def test_the_report_shows_the_confirmation_the_latent_space_and_the_spectra(reported):
    import base64
    import io

    from PIL import Image

    from gansearch.results._figures import INTERPOLATION_ROWS, INTERPOLATION_STEPS

    path, report = reported
    text = report.read_text()
    summary = gansearch.trials_dataframe(path).attrs["confirmed"]
    assert "alt=\"search score against confirmed score\"" in text and "Spearman" in text and "Kendall" in text
    for r in summary.rows[:3]:  # the winners' confirmed samples, one grid per seed
        assert text.count(f'alt="confirmed samples of trial {r.number}"') == r.seeds
    strip = re.search(r'src="data:image/png;base64,([^"]+)" alt="latent interpolations"', text)
    image = Image.open(io.BytesIO(base64.b64decode(strip.group(1))))
    cell = 48 + 2  # cells of at least 48 px (8x8 digits, zoomed), 2 px apart
    assert image.height == INTERPOLATION_ROWS * cell + 2 and image.width > INTERPOLATION_STEPS * cell
    assert 'alt="power spectra"' in text and 'alt="checkerboard per upsampling block and kernel"' in text
    assert "<td>deconv</td>" in text  # the checkerboard table names the blocks the trials upsample with


def test_pruned_and_failed_trials_are_listed_with_their_reasons(reported):
    path, report = reported
    df = gansearch.trials_dataframe(path)
    text = report.read_text()
    pruned = df[df["state"] == "pruned"]
    assert not pruned.empty and pruned["score_at_pruning"].notna().all()
    for r in pruned.itertuples():
        assert (f"<td>{r.number}</td><td>pruned</td><td>pruned at step {int(r.pruned_at)}</td>"
                f"<td>{r.score_at_pruning:.4g}</td>") in text


def test_the_plots_say_what_they_show(reported):
    from gansearch.results._report import FEW_TRIALS

    path, report = reported
    text = report.read_text()
    complete = (gansearch.trials_dataframe(path)["state"] == "complete").sum()
    assert ("importances from so few are a rough hint" in text) == (complete < FEW_TRIALS)
    assert "score when pruned (partly trained)" in text


def test_pruned_trials_are_drawn_at_their_score_when_stopped_not_at_the_top():
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    from unittest import mock

    from gansearch.results import _report

    df = pd.DataFrame({"number": [0, 1, 2], "state": ["complete", "pruned", "complete"], "score": [0.5, None, 0.3],
                       "score_at_pruning": [None, 0.9, None], "baseline": [None, None, None]})
    with mock.patch("matplotlib.axes.Axes.scatter", autospec=True, side_effect=lambda ax, x, y, **kw: None) as drawn:
        _report.history_plot(df)
    pruned = [c for c in drawn.call_args_list if "pruned" in c.kwargs.get("label", "")]
    assert [list(c.args[2]) for c in pruned] == [[0.9]]  # at its own score, not the best complete one's height


def test_failed_trials_are_listed_with_their_failure():
    import pandas as pd

    from gansearch.results._report import failures_table

    df = pd.DataFrame({"number": [3, 4], "state": ["fail", "pruned"], "failure": ["TrialDiverged: non-finite loss",
                       None], "pruned_at": [None, 100]})
    text = failures_table(df)
    assert "1 fail, 1 pruned" in text or "1 pruned, 1 fail" in text
    assert "<td>3</td><td>fail</td><td>TrialDiverged: non-finite loss</td>" in text
