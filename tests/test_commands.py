"""Every command works on a finished study of every task, generate and translate (issue 17), and a translate
study says what doing nothing (its held-out conditions as outputs) scores."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import gansearch
from gansearch.cli import cli
from gansearch.results import held_out_conditions

pytestmark = pytest.mark.slow  # every command on two finished studies


@pytest.fixture(params=["generate", "translate"])
def study(request):
    return request.getfixturevalue("finished_study" if request.param == "generate" else "finished_translate")


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def write_pngs(images: torch.Tensor, folder):
    folder.mkdir()
    for i, image in enumerate(images):
        pixels = ((image.detach().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).squeeze(-1).numpy()
        Image.fromarray(np.ascontiguousarray(pixels)).save(folder / f"{i:03d}.png")


def test_every_command_works_on_a_finished_study_of_each_task(study, tmp_path):
    translate = "task: translate" in study.read_text()
    invoke("run", study, "--no-progress")  # finished already: the summary again
    invoke("trials", study)
    best = json.loads(invoke("best", study, "--json"))
    assert best["number"] >= 0 and (best["identity"] is not None) == translate
    invoke("best", study)
    invoke("report", study, "-o", tmp_path / "report.html")
    invoke("export", study, "--format", "pytorch", "-o", tmp_path / "export")
    g = gansearch.load_generator(study)
    outputs = g(held_out_conditions(study)) if translate else g(torch.randn(40, g.latent_dim))
    write_pngs(outputs, tmp_path / "images")
    scored = invoke("evaluate", study, "--images", tmp_path / "images")
    assert ("held-out conditions" in scored) == translate
    calibration = invoke("calibrate", study)
    assert "Kendall tau" in calibration and ("identity" in calibration) == translate


def test_a_translate_study_shows_what_doing_nothing_scores_in_run_best_dataframe_and_report(finished_translate,
                                                                                              tmp_path):
    summary = invoke("run", finished_translate, "--no-progress")
    assert "best/identity: " in summary and "vs identity" in summary
    df = gansearch.trials_dataframe(finished_translate)
    identity = df.attrs["identity"]
    assert identity["score"] > 0 and identity["score_se"] > 0 and {"l1", "psnr", "ssim", "fd"} <= set(identity["metrics"])
    done = df[df.state == "complete"]
    assert (done["beats_identity"] == (done["score"] < identity["score"])).all()
    assert f"{identity['score']:.4g}" in invoke("best", finished_translate)
    report = (tmp_path / "r.html")
    invoke("report", finished_translate, "-o", report)
    html = report.read_text()
    assert "doing nothing" in html and "rows: condition, output, target" in html


def test_the_layer_tables_show_a_translator_s_u_net_skips():
    from optuna.trial import FixedTrial

    from gansearch.config import config_from_dict
    from gansearch.plugins import load_registry
    from gansearch.results._report import layer_table
    from gansearch.results._summaries import layer_rows
    from gansearch.search import SearchSpace

    raw = {"name": "t", "task": "translate", "data": {"name": "digits", "resolution": 16},
           "translate": {"condition": "blur", "skips": [True]},
           "generator": {"blocks": ["conv", "deconv"], "depth": 4, "strides": [2], "kernels": [4], "widths": [8]},
           "discriminator": {"blocks": ["conv"], "kernels": [4], "strides": [2], "depth": 2, "widths": [8]}}
    registry = load_registry(entry_points=False)
    space = SearchSpace(config_from_dict(raw), registry, 1)
    arch, _ = space.suggest(FixedTrial({"g.strides": "d2-d2-u2-u2", "d.head": "patch"}), 0)
    rows = layer_rows(arch.to_dict(), registry)
    # 16 -d-> 8 -d-> 4 -u-> 8 (+ the 8x8 map that entered G1) -u-> 16
    assert [r["skip"] for r in rows if r["layer"].startswith("G")] == [
        "", "keeps its input for a later layer", "", "joins 8 channels kept from before"]
    assert "<th>U-Net skip</th>" in layer_table(rows) and "joins 8 channels" in layer_table(rows)
