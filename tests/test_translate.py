"""task: translate (issue 9): image-to-image generators searched like the rest."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import gansearch
from gansearch.config import TranslateConfig
from gansearch.data import make_condition, make_pairs
from gansearch.errors import StudyConfigError
from gansearch.nets import build_pair, count_params
from gansearch.plugins import load_registry
from gansearch.results import held_out_conditions
from gansearch.run import run_study
from gansearch.score import psnr, ssim
from gansearch.study import prepare
from gansearch.train import Step, train

STUDIES = Path(__file__).parents[1] / "studies"


def test_the_notes_seed_pair_has_its_layer_shapes_and_parameter_counts_at_256():
    prepared = prepare(STUDIES / "seed_pair.yaml", load_data=False)
    g, d = build_pair(prepared.baseline.arch, prepared.registry, seed=0)
    assert count_params(g) == 119_491 and count_params(d) == 2_887_617
    x = torch.zeros(1, 3, 256, 256)
    shapes = []
    for layer in g.layers:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 128, 128), (64, 256, 256), (32, 128, 128), (32, 256, 256), (3, 256, 256)]
    h = torch.zeros(1, 3, 256, 256)
    d_shapes = []
    for layer in d.layers:
        h = layer(h)
        d_shapes.append(tuple(h.shape[1:]))
    assert d_shapes == [(64, 128, 128), (128, 64, 64), (256, 32, 32), (512, 16, 16)]
    assert d(torch.zeros(2, 3, 256, 256)).shape == (2,)  # flatten, dense to one logit


def test_a_256_translate_pair_trains_on_the_cpu_at_small_batch():
    prepared = prepare(STUDIES / "seed_pair.yaml", load_data=False)
    g, d = build_pair(prepared.baseline.arch, prepared.registry, seed=0)
    data = torch.rand(6, 6, 256, 256) * 2 - 1  # condition and target side by side in channels
    spec = prepared.space.train_spec({"batch_size": 2, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                                      "loss": "ns", "d_steps": 1, "augment": "none", "l1_weight": 100.0}, 0)
    spec = type(spec)(**{**spec.to_dict(), "steps": 3, "eval_every": 3})
    before = g.layers[0].conv.weight.detach().clone()
    result = train(g, d, data, spec, score=lambda g: 0.5)
    assert result.steps == 3 and not torch.equal(before, g.layers[0].conv.weight)


@pytest.mark.parametrize("condition", ["grayscale", "downsample", "blur", "noise", "mask", "edges"])
def test_conditions_are_deterministic_and_shaped_as_promised(condition):
    images = torch.rand(10, 3, 16, 16) * 2 - 1
    cfg = TranslateConfig(condition=condition)
    a, b = make_condition(images, cfg, 0), make_condition(images, cfg, 0)
    assert torch.equal(a, b) and a.min() >= -1 and a.max() <= 1
    assert a.shape == (10, 1 if condition in ("grayscale", "edges") else 3, 16, 16)
    assert not torch.equal(a[:, :1], images[:, :1])  # it degrades


def test_downsample_loses_detail_that_blur_of_the_same_image_does_not_invent():
    images = torch.rand(4, 1, 16, 16) * 2 - 1
    low = make_condition(images, TranslateConfig(condition="downsample", factor=4), 0)
    assert (low - images).abs().mean() > 0.1
    assert torch.allclose(low[:, :, ::4, ::4].mean(), images.mean(), atol=0.1)


def test_held_out_pairs_are_seeded_and_never_in_the_training_data():
    images = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1).expand(50, 1, 4, 4) / 50
    pairs = make_pairs(images, TranslateConfig(condition="noise", sigma=0.01, held_out=0.1), seed=3)
    again = make_pairs(images, TranslateConfig(condition="noise", sigma=0.01, held_out=0.1), seed=3)
    assert torch.equal(pairs.held_out, again.held_out) and len(pairs.held_out) == 5
    trained = {round(float(v) * 50) for v in pairs.train_data()[:, 1, 0, 0]}  # the targets trained on
    held = {int(i) for i in pairs.held_out}
    assert trained.isdisjoint(held) and len(trained) == 45


def test_held_out_pairs_are_drawn_class_by_class_so_a_rare_subfolder_is_scored_and_shown():
    labels = torch.tensor([0] * 50 + [1] * 5 + [2] * 5)  # a folder of 50 circles, 5 squares, 5 triangles
    images = torch.zeros(60, 1, 4, 4)
    for seed in range(20):  # a plain draw of 6 misses the 5 squares about half the time
        pairs = make_pairs(images, TranslateConfig(condition="noise", held_out=0.1), seed, labels=labels)
        assert set(labels[pairs.held_out].tolist()) == {0, 1, 2} and len(pairs.held_out) == 7
        assert len(pairs.train_index) == 53  # every class keeps images to train on


def test_ssim_and_psnr_behave_as_their_definitions_say():
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(3), atol=1e-5)
    light, heavy = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1), (x + 0.6 * torch.randn_like(x)).clamp(-1, 1)
    assert (ssim(x, light) > ssim(x, heavy)).all() and (ssim(x, heavy) < 0.8).all()
    assert ssim(x, torch.rand(3, 3, 16, 16) * 2 - 1).abs().max() < 0.15  # unrelated images: about 0
    y = x + 0.2  # an error of 0.1 in [0, 1] units: mse 0.01, 20 dB
    assert torch.allclose(psnr(x, y), torch.full((3,), 20.0), atol=1e-3)


@pytest.fixture
def tiny_translate(tmp_path):
    def write(**changes):
        study = {"name": "tt", "task": "translate", "n_trials": 3, "workers": 1, "pruner": "none",
                 "data": {"name": "digits", "resolution": 8}, "translate": {"condition": "blur", "sigma": 1.0},
                 "generator": {"blocks": ["conv", "deconv"], "kernels": [3], "strides": [1, 2], "depth": 2,
                               "widths": [8]},
                 "discriminator": {"blocks": ["conv"], "kernels": [3], "strides": [2], "depth": 1, "widths": [8]},
                 "train": {"steps": 12, "eval_every": 6, "batch_size": 16}}
        for key, value in changes.items():
            study[key] = {**study.get(key, {}), **value} if isinstance(value, dict) else value
        path = tmp_path / "study.yaml"
        path.write_text(yaml.safe_dump(study))
        return path

    return write


def test_a_translate_study_stores_every_translation_metric_and_shows_condition_output_target(tiny_translate):
    path = tiny_translate()
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    complete = df[df["state"] == "complete"]
    assert len(complete) == 3 and complete["baseline"].iloc[0] == "seed"
    for name in ("l1", "psnr", "ssim", "dssim", "fd"):
        assert complete[name].notna().all() and (complete[f"{name}_se"] >= 0).all(), name
    assert (complete["score"] == complete["l1"]).all()  # the default objective
    grid = Image.open(complete["samples"].iloc[1])
    cell = 48 + 2  # 8x8 images zoomed to 48 px, 2 px apart
    margin = grid.width - (8 * cell + 2)  # where the rows are named
    assert grid.height == 3 * cell + 2 and 40 < margin < 100  # 8 held-out pairs: condition | output | target rows
    assert (np.asarray(grid.convert("L"))[:, :margin] < 128).any()  # the names are drawn there
    record = json.loads((Path(complete["generator"].iloc[1]).parent / "trial.json").read_text())
    assert record["user_attrs"]["arch"]["task"] == "translate"
    g = gansearch.load_generator(path, number=int(complete["number"].iloc[1]))  # rebuilt from storage alone
    assert g(torch.zeros(2, 1, 8, 8)).shape == (2, 1, 8, 8)


def test_the_objective_can_be_any_lower_is_better_translation_metric(tiny_translate):
    path = tiny_translate(score={"objective": "dssim"}, n_trials=1)
    run_study(path, progress=False)
    df = gansearch.trials_dataframe(path)
    assert df["score"].iloc[0] == pytest.approx(df["dssim"].iloc[0])
    with pytest.raises(StudyConfigError, match="not a translate objective"):
        prepare(tiny_translate(score={"objective": "psnr"}), load_data=False)


def test_the_generate_baseline_is_refused_in_a_translate_study(tiny_translate):
    with pytest.raises(StudyConfigError, match="baseline 'dcgan' is for task 'generate'"):
        prepare(tiny_translate(baseline="dcgan"), load_data=False)


def test_unet_skips_join_encoder_maps_of_the_same_size():
    from optuna.trial import FixedTrial

    from gansearch.config import config_from_dict
    from gansearch.search import SearchSpace

    raw = {"name": "t", "task": "translate", "data": {"name": "digits", "resolution": 16},
           "translate": {"condition": "grayscale", "skips": [True]},
           "generator": {"blocks": ["conv", "deconv"], "kernels": [4], "strides": [2], "depth": 4, "widths": [8]},
           "discriminator": {"blocks": ["conv"], "kernels": [4], "strides": [2], "depth": 2, "widths": [8]}}
    space = SearchSpace(config_from_dict(raw), load_registry(entry_points=False), 1)
    arch, _ = space.suggest(FixedTrial({"g.strides": "d2-d2-u2-u2", "d.head": "patch"}), 0)
    g, _ = build_pair(arch, load_registry(entry_points=False), 0)
    # 16 -d-> 8 -d-> 4 -u-> 8 (+ the 8x8 map that entered the second down) -u-> 16
    # (the first down layer's 16x16 input would join the last layer's output, the image: it is not kept)
    assert g.push == [False, True, False, False] and g.pop == [False, False, False, True]
    assert g.layers[3].conv.in_channels == 8 + 8
    assert g(torch.randn(2, 1, 16, 16)).shape == (2, 1, 16, 16)


def test_the_discriminator_of_a_conditional_pair_sees_condition_and_image_augmented_together():
    seen = []

    def spy(x):
        seen.append(x.shape[1])
        return x

    prepared = prepare(STUDIES / "superres_digits.yaml", load_data=False)
    from optuna.trial import FixedTrial

    params = {"g.strides": "d2-s1-u2", "g.norm": "none", "g.activation": "relu", "g.skips": False, "g.0.block_d2": "conv",
              "g.0.kernel": 4, "g.0.width": 16, "g.1.block": "conv", "g.1.kernel": 3, "g.1.width": 16,
              "g.2.block_u2": "deconv", "g.2.kernel": 4, "d.width": 32, "d.0.width": 32, "d.1.width": 32,
              "d.head": "patch", "lr_g": 2e-4, "l1_weight": 100, "augment": "none"}
    trial = FixedTrial(params)
    arch, spec = prepared.space.suggest(trial, 0)
    g, d = build_pair(arch, prepared.registry, 0)
    data = torch.rand(40, 2, 16, 16) * 2 - 1
    Step(g, d, data, spec, augment=spy)()
    assert seen and all(c == 2 for c in seen)  # condition (1) + image (1), one tensor: the same transform


def _write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.mark.parametrize("layout", ["two folders", "side by side"])
def test_a_paired_folder_trains_a_translate_study(tmp_path, layout):
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(12):
        a = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        b = 255 - a  # the target: the negative
        if layout == "two folders":
            _write_png(tmp_path / "A" / f"{i:02}.png", a)
            _write_png(tmp_path / "B" / f"{i:02}.png", b)
        else:
            _write_png(tmp_path / "AB" / f"{i:02}.png", np.concatenate([a, b], 1))
    data = ({"name": "paired_folder", "resolution": 8, "path": "A", "target": "B"} if layout == "two folders"
            else {"name": "paired_folder", "resolution": 8, "path": "AB"})
    study = {"name": "p", "task": "translate", "n_trials": 2, "workers": 1, "pruner": "none", "data": data,
             "translate": {"condition": "paired", "held_out": 0.25},
             "generator": {"blocks": ["conv", "deconv"], "kernels": [3], "strides": [1, 2], "depth": 2, "widths": [8]},
             "discriminator": {"blocks": ["conv"], "kernels": [3], "strides": [2], "depth": 1, "widths": [8]},
             "train": {"steps": 6, "eval_every": 3, "batch_size": 4}, "score": {"samples": 128}}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    prepared = prepare(path)
    cond, target = prepared.pairs.held_out_pairs()
    assert len(cond) == 3 and torch.allclose(cond, -target, atol=1e-2)  # each condition beside its own target
    run_study(path, progress=False)
    assert (gansearch.trials_dataframe(path)["state"] == "complete").sum() == 2


def test_a_paired_dataset_needs_the_paired_condition(tmp_path):
    import numpy as np

    for i in range(3):
        _write_png(tmp_path / "AB" / f"{i}.png", np.zeros((8, 16, 3), dtype=np.uint8))
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ndata: {name: paired_folder, resolution: 8, path: AB}\n"
                    "generator: {blocks: [deconv]}\ndiscriminator: {blocks: [conv]}\n")
    with pytest.raises(StudyConfigError, match="translate.condition: paired"):
        prepare(path)


def test_the_generator_loss_adds_l1_weight_times_the_l1_to_the_target():
    import optuna

    prepared = prepare(STUDIES / "superres_digits.yaml", load_data=False)
    arch, spec = prepared.space.suggest(optuna.create_study(sampler=optuna.samplers.RandomSampler(0)).ask(), 0)
    data = torch.rand(40, 2, 16, 16) * 2 - 1
    losses, seen = {}, {}
    for weight in (0.0, 100.0):
        g, d = build_pair(arch, prepared.registry, 0)
        step = Step(g, d, data, type(spec)(**{**spec.to_dict(), "l1_weight": weight}))
        inputs = step.inputs
        step.inputs = lambda: seen.setdefault("batch", inputs())  # the same batch for both weights
        outputs = []
        g.register_forward_hook(lambda module, args, out: outputs.append(out.detach()))
        step()
        losses[weight] = float(step.loss_g.detach())
        seen["fake"] = outputs[-1]
    l1 = float((seen["fake"] - seen["batch"][1]).abs().mean())
    assert losses[100.0] == pytest.approx(losses[0.0] + 100 * l1, rel=1e-4)


def test_any_model_s_outputs_for_the_held_out_conditions_are_scored_like_a_trial(tiny_translate):
    path = tiny_translate(n_trials=1)
    cond = held_out_conditions(path)
    prepared = prepare(path)
    _, target = prepared.pairs.held_out_pairs()
    perfect = gansearch.evaluate(path, target)  # a model that returns the targets exactly
    assert perfect["l1"] == 0 and perfect["ssim"] == pytest.approx(1.0)
    identity = gansearch.evaluate(path, cond)  # one that returns the (blurred) condition
    assert identity["l1"] > 0.01 and identity["l1_se"] > 0
    with pytest.raises(StudyConfigError, match="held-out conditions"):
        gansearch.evaluate(path, target[:-1])


def test_sample_grids_draw_held_out_pairs_across_classes_or_across_the_whole_held_out_set():
    from gansearch.data import preview_index

    labels = torch.tensor([0] * 30 + [1] * 30 + [2] * 3)  # a rare class too
    picked = preview_index(len(labels), 8, seed=0, labels=labels)
    assert set(labels[picked].tolist()) == {0, 1, 2} and len(set(picked.tolist())) == 8
    assert torch.equal(picked, preview_index(len(labels), 8, seed=0, labels=labels))  # seeded
    spread = preview_index(90, 8, seed=0)  # no labels: one from each eighth of the held-out set (a folder
    assert [int(p) * 8 // 90 for p in spread] == list(range(8))  # dataset's subfolders come in order)
    assert len(preview_index(5, 8, seed=0)) == 5
