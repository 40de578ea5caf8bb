"""Metrics as plugins: what a study scores, how a third-party metric joins, evaluate(), ties."""

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import gansearch
from gansearch.cli import cli
from gansearch.errors import GansearchError, StudyConfigError
from gansearch.results import ties
from gansearch.run import run_study
from gansearch.study import prepare


def plan_of(write_study, changes=None):
    return prepare(write_study(changes), load_data=False).plan


def test_auto_metrics_on_a_labelled_dataset_include_the_classifier_ones(write_study):
    plan = plan_of(write_study)
    names = [c.name for c in plan.columns]
    assert names[0] == "fd" and plan.objective.extractor == "layout"
    assert {"fd", "kid", "precision", "recall", "coverage", "class_entropy", "fd@classifier", "spectrum",
            "checkerboard"} <= set(names)
    assert {c.name: c.extractor for c in plan.columns}["coverage"] == "classifier"


def test_auto_metrics_on_unlabelled_images_leave_out_the_classifier(write_study, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (16, 16), (40 * i, 0, 0)).save(folder / f"{i}.png")
    plan = plan_of(write_study, {"data": {"name": "folder", "resolution": 16, "path": str(folder)}})
    assert [c.name for c in plan.columns] == ["fd", "kid", "precision", "recall", "spectrum", "checkerboard"]


@pytest.mark.parametrize("changes, key, words", [
    ({"score.objective": "fid"}, "score.objective", "unknown metric 'fid'; available: checkerboard, class_entropy, coverage"),
    ({"score.objective": "precision"}, "score.objective", "higher-is-better"),
    ({"score.extractor": "vgg"}, "score.extractor", "unknown extractor 'vgg'; available: classifier, inception"),
    ({"score.metrics": ["fd", "coverage@layout"]}, "score.metrics.1", "always uses the 'classifier' extractor"),
    ({"score.metrics": ["fd", "fd@nope"]}, "score.metrics.1", "unknown extractor 'nope'"),
])
def test_bad_score_settings_name_the_key(write_study, changes, key, words):
    with pytest.raises(StudyConfigError) as info:
        plan_of(write_study, changes)
    assert info.value.key == key and words in str(info.value)


def test_classifier_needs_a_labelled_dataset(write_study, tmp_path):
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "imgs" / "a.png")
    with pytest.raises(StudyConfigError, match="needs a labelled dataset") as info:
        plan_of(write_study, {"data": {"name": "folder", "resolution": 16, "path": str(tmp_path / "imgs")},
                              "score.extractor": "classifier"})
    assert info.value.key == "score.extractor"


def test_objective_on_another_extractor_gets_a_column_of_its_own(write_study):
    plan = plan_of(write_study, {"score.objective": "kid@classifier", "score.metrics": ["fd"]})
    assert [c.name for c in plan.columns] == ["kid@classifier", "fd"]


BRIGHTNESS_PLUGIN = """
import gansearch


def brightness_gap(real, fake):
    return abs(float(real.values.mean() - fake.values.mean()))


@gansearch.hookimpl
def register_metrics(register):
    register(gansearch.Metric("brightness_gap", brightness_gap, description="gap in mean feature"))
"""


def test_a_plugin_metric_is_stored_with_every_complete_trial_and_is_a_column(tiny_study, tmp_path):
    (tmp_path / "brightness.py").write_text(BRIGHTNESS_PLUGIN)
    path = tiny_study(n_trials=2, plugins="[brightness.py]", metrics="auto")
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    done = df[df["state"] == "complete"]
    assert len(done) == 2
    for column in ("fd", "fd_se", "kid", "precision", "recall", "coverage", "fd@classifier", "brightness_gap",
                   "brightness_gap_se", "score_se", "tie"):
        assert column in df.columns and done[column].notna().all(), column
    assert (done["score"] == done["fd"]).all() and (done["score_se"] > 0).all()


def test_evaluate_scores_real_images_far_better_than_noise_with_standard_errors(write_study):
    path = write_study({"score.samples": 256})
    real = prepare(path).data[:256]
    good = gansearch.evaluate(path, real)
    bad = gansearch.evaluate(path, torch.rand_like(real) * 2 - 1)
    for name in ("fd", "kid", "precision", "recall", "coverage", "class_entropy", "fd@classifier"):
        assert f"{name}_se" in good, name
    assert good["fd"] + 2 * good["fd_se"] < bad["fd"] - 2 * bad["fd_se"]
    assert good["kid"] < bad["kid"] and good["precision"] > bad["precision"]
    assert good["coverage"] == 10 and good["fd@classifier"] < bad["fd@classifier"]


def test_evaluate_refuses_images_of_another_shape(write_study):
    path = write_study()
    with pytest.raises(GansearchError, match=r"images must be a tensor \(N, 1, 16, 16\)"):
        gansearch.evaluate(path, torch.zeros(64, 3, 16, 16))
    with pytest.raises(GansearchError, match=r"in \[-1, 1\]"):
        gansearch.evaluate(path, torch.full((64, 1, 16, 16), 3.0))


def test_evaluate_command_reads_a_folder_of_images(write_study, tmp_path):
    path = write_study({"score.samples": 128})
    real = prepare(path).data[:40]
    folder = tmp_path / "generated"
    folder.mkdir()
    for i, image in enumerate(real):
        Image.fromarray(((image[0] + 1) * 127.5).round().byte().numpy(), mode="L").save(folder / f"{i:03d}.png")
    result = CliRunner().invoke(cli, ["evaluate", str(path), "--images", str(folder)])
    assert result.exit_code == 0, result.output
    assert "40 images" in result.output and "fd@classifier" in result.output and " ± " in result.output
    missing = CliRunner().invoke(cli, ["evaluate", str(path), "--images", str(tmp_path / "none")])
    assert missing.exit_code == 2 and f"{path}: --images: {tmp_path / 'none'} does not exist" in missing.output


def test_ties_are_trials_within_two_standard_errors_of_the_best():
    df = pd.DataFrame({"state": ["complete", "complete", "complete", "pruned"],
                       "score": [1.0, 1.05, 1.5, 0.5], "score_se": [0.02, 0.02, 0.02, None]})
    # 1.05 - 1.0 = 0.05 <= 2 * sqrt(0.02² + 0.02²) = 0.057; 1.5 is far; a pruned trial is never a tie
    assert ties(df).tolist() == [True, True, False, False]


def test_the_inception_extractor_without_weights_is_one_clear_error_and_writes_nothing(write_study, monkeypatch):
    monkeypatch.delenv("GANSEARCH_INCEPTION_WEIGHTS", raising=False)
    path = write_study({"score.extractor": "inception", "score.metrics": ["fd"]})
    result = CliRunner().invoke(cli, ["run", str(path)])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "score.inception_weights:" in line and "pt_inception-2015-12-05-6726825d.pth" in line
    assert "GANSEARCH_INCEPTION_WEIGHTS" in line
    assert not (path.parent / "runs").exists()


@pytest.mark.slow
def test_the_inception_extractor_scores_with_weights_from_the_environment(write_study, tmp_path, monkeypatch):
    from gansearch.builtin.inception import FIDInception
    from gansearch.score import Scorer, single_threaded

    torch.manual_seed(0)
    weights = tmp_path / "random_inception.pth"
    torch.save(FIDInception().state_dict(), weights)  # the architecture, randomly initialised: no download
    monkeypatch.setenv("GANSEARCH_INCEPTION_WEIGHTS", str(weights))
    prepared = prepare(write_study({"score.extractor": "inception", "score.metrics": ["fd", "kid"]}))
    with single_threaded():  # small convs run far faster on one thread here
        scorer = Scorer(prepared.plan, prepared.registry, prepared.data[:24], samples=20)
        result = scorer.evaluate(prepared.data[24:44])
    assert scorer.real["inception"].values.shape == (24, 2048)
    assert set(result) == {"fd", "fd_se", "kid", "kid_se"} and all(v == v for v in result.values())


@pytest.mark.parametrize("device", ["gpu", "cuda:7"])
def test_evaluate_and_calibrate_refuse_a_device_this_machine_lacks(write_study, tmp_path, device):
    path = write_study()
    for args in (["evaluate", str(path), "--images", str(tmp_path), "--device", device],
                 ["calibrate", str(path), "--device", device]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and result.output.startswith("Error: --device: ")
        assert len(result.output.strip().splitlines()) == 1


def test_too_few_images_is_bad_input(write_study):
    from gansearch.errors import StudyConfigError

    with pytest.raises(StudyConfigError, match="need at least 20 images"):
        gansearch.evaluate(write_study(), torch.zeros(5, 1, 16, 16))
