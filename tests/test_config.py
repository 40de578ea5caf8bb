"""The study file: schema, defaults, and one precise error per kind of mistake."""

from pathlib import Path

import pytest
import yaml

from gansearch.config import IntRange, Range, StudyConfig, config_from_dict, load_config
from gansearch.errors import StudyConfigError
from gansearch.study import prepare

from conftest import DELETE, with_changes

QUICKSTART = Path(__file__).parents[1] / "studies" / "quickstart.yaml"


# --- what a valid file becomes -------------------------------------------------------------------

def test_defaults_are_filled():
    c = config_from_dict(with_changes())
    assert c.generator.activations == ["relu"] and c.discriminator.activations == ["lrelu"]
    assert c.generator.depth == IntRange(2, 4) and c.generator.kernels == [3, 4]
    assert c.generator.base_resolution == 4 and c.generator.block_options == {}
    assert (c.sampler, c.pruner, c.n_trials, c.seed) == ("tpe", "median", 20, 0)
    assert (c.train.steps, c.train.loss, c.train.lr_g) == (400, "ns", 2e-4)
    assert c.data.channels is None and c.data.options == {}


def test_depth_int_becomes_a_range():
    c = config_from_dict(with_changes({"generator.depth": 3}))
    assert c.generator.depth == IntRange(3, 3)


def test_output_defaults_to_runs_beside_the_study_file(write_study, tmp_path):
    c = load_config(write_study())
    assert c.output_dir == tmp_path / "runs" / "t"
    assert c.storage_url == str(tmp_path / "runs" / "t" / "journal.log")


def test_exponent_strings_are_floats(write_study):
    # YAML 1.1 reads 1e-4 (no dot) as a string; the study means a number.
    text = yaml.safe_dump(with_changes()) + "train: {lr_d: 1e-4, lr_g: [1e-4, 3e-4], beta1: {low: 1e-1, high: 9e-1}}\n"
    assert yaml.safe_load(text)["train"]["lr_d"] == "1e-4"
    t = load_config(write_study(text=text)).train
    assert t.lr_d == 1e-4 and isinstance(t.lr_d, float)
    assert t.lr_g == [1e-4, 3e-4]
    assert t.beta1 == Range(0.1, 0.9)


def test_ranges_and_choices():
    t = config_from_dict(with_changes({"train.lr_g": {"low": 1e-5, "high": 1e-3, "log": True},
                                       "train.batch_size": [32, 64], "train.loss": ["ns", "hinge"]})).train
    assert t.lr_g == Range(1e-5, 1e-3, log=True)
    assert t.batch_size == [32, 64] and t.loss == ["ns", "hinge"]


def test_quickstart_loads():
    c = load_config(QUICKSTART)
    assert c.name == "quickstart" and c.train.lr_g == Range(1e-4, 1e-3, log=True)
    assert c.generator.depth == IntRange(2, 3) and c.train.loss == ["ns", "hinge"]


# --- schema errors (no registry needed) -----------------------------------------------------------

SCHEMA_ERRORS = [
    ({"nme": "x"}, "nme", ["unknown key", "allowed: name, data, generator"]),
    ({"generator.depht": 3}, "generator.depht", ["unknown key", "depth"]),
    ({"generator.kernels": "3"}, "generator.kernels", ["expected a list of integers, got a string"]),
    ({"generator.kernels": [3, "4"]}, "generator.kernels.1", ["expected an integer, got a string"]),
    ({"data.resolution": "16"}, "data.resolution", ["expected an integer"]),
    ({"data": DELETE}, "data", ["required key is missing"]),
    ({"data": "digits"}, "data", ["expected a mapping"]),
    ({"sampler": "bayes"}, "sampler", ["'bayes'", "tpe, random, cmaes, nsga2"]),
    ({"pruner": "asha"}, "pruner", ["'asha'", "median, hyperband, successive_halving, none"]),
    ({"train.loss": "wgan"}, "train.loss", ["'wgan'", "ns, hinge"]),
    ({"train.loss": ["ns", "wgan"]}, "train.loss.1", ["'wgan'", "ns, hinge"]),
    ({"train.lr_g": {"low": 1e-3, "high": 1e-4}}, "train.lr_g", ["must be below high"]),
    ({"train.lr_g": {"low": 1e-3, "high": 1e-3}}, "train.lr_g", ["must be below high"]),
    ({"train.lr_g": {"low": 0, "high": 1e-3, "log": True}}, "train.lr_g.low", ["> 0 when log: true"]),
    ({"train.lr_g": {"low": 1e-4, "hi": 1e-3}}, "train.lr_g.hi", ["unknown key", "low, high, log"]),
    ({"generator.base_resolution": 5}, "generator.base_resolution", ["must divide data.resolution (16)"]),
    ({"data.resolution": 2}, "data.resolution", ["expected an integer in [4, 1024]"]),
    ({"data.options": {"path": "x"}}, "data.options", ["directly under data"]),
]


@pytest.mark.parametrize("changes, key, expected", SCHEMA_ERRORS, ids=[k for _, k, _ in SCHEMA_ERRORS])
def test_schema_error_names_key_and_what_is_allowed(changes, key, expected):
    with pytest.raises(StudyConfigError) as err:
        config_from_dict(with_changes(changes), file="s.yaml")
    assert err.value.key == key
    assert str(err.value).startswith(f"s.yaml: {key}: ")
    for fragment in expected:
        assert fragment in err.value.message


def test_unknown_key_under_depth_is_named():
    with pytest.raises(StudyConfigError) as err:
        config_from_dict(with_changes({"generator.depth": {"low": 2, "hgh": 3}}))
    assert err.value.key == "generator.depth.hgh"


def test_infinite_learning_rate_is_rejected():
    with pytest.raises(StudyConfigError) as err:
        config_from_dict(with_changes({"train.lr_d": float("inf")}))
    assert err.value.key == "train.lr_d"


@pytest.mark.parametrize("rng", [{"low": 1e-4, "high": 1e-3, "step": 0},
                                 {"low": 1e-4, "high": 1e-3, "step": 1e-4, "log": True}])
def test_bad_range_step_is_rejected(rng):
    with pytest.raises(StudyConfigError) as err:
        config_from_dict(with_changes({"train.lr_d": rng}))
    assert err.value.key.startswith("train.lr_d")


def test_negative_seed_is_rejected():
    with pytest.raises(StudyConfigError) as err:
        config_from_dict(with_changes({"seed": -1}))
    assert err.value.key == "seed"


# --- reading the file ---------------------------------------------------------------------------------

def test_malformed_yaml_gives_the_line(write_study):
    path = write_study(text="name: t\n  data: oops\n")
    with pytest.raises(StudyConfigError) as err:
        load_config(path)
    assert err.value.file == str(path) and err.value.key is None
    assert "malformed YAML: line 2" in str(err.value)


@pytest.mark.parametrize("text, kind", [("- name: t\n", "a list"), ("", "nothing"), ("t\n", "a string")])
def test_study_file_must_be_a_mapping(write_study, text, kind):
    with pytest.raises(StudyConfigError, match=f"expected a mapping of study settings, got {kind}"):
        load_config(write_study(text=text))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(StudyConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: no such study file"


# --- registry-level errors: prepare() -------------------------------------------------------------

def prepare_error(path) -> StudyConfigError:
    with pytest.raises(StudyConfigError) as err:
        prepare(path, entry_points=False)
    assert err.value.file == str(path)
    return err.value


UPSAMPLE_OPTIONS = "generator.block_options.upsample_conv"


REGISTRY_ERRORS = [
    ({"generator.blocks": ["deconv", "nosuch"]}, "generator.blocks.1",
     ["unknown block 'nosuch'", "available: conv, deconv, residual, upsample_conv"]),
    ({"discriminator.blocks": ["conv2"]}, "discriminator.blocks.0", ["available: conv, deconv, residual, upsample_conv"]),
    ({"generator.norms": ["group"]}, "generator.norms.0", ["'group' is not allowed", "batch"]),
    ({"data.name": "mnist"}, "data.name", ["unknown dataset 'mnist'", "available: digits, folder, paired_folder, shapes"]),
    ({"data.colour": "red"}, "data.colour", ["unknown key for dataset 'digits'", "allowed: name, resolution, channels"]),
    ({"data": {"name": "folder", "resolution": 16}}, "data.path", ["dataset 'folder' needs this key"]),
    ({"generator.blocks": ["conv"]}, "generator.blocks", ["no feasible architecture", "layers that upsample",
                                                          "none of the blocks (conv) can"]),
    ({"generator.strides": [3], "generator.depth": 2}, "generator.strides",
     ["no feasible architecture", "strides multiplying to 4", "2 layers with strides from [3] cannot reach it"]),
    ({"discriminator.strides": [1], "discriminator.depth": {"low": 1, "high": 3}}, "discriminator.strides",
     ["no feasible architecture"]),
    pytest.param({UPSAMPLE_OPTIONS: {"size": ["x"]}}, f"{UPSAMPLE_OPTIONS}.size",
                 ["has no option 'size'", "mode"]),
    pytest.param({UPSAMPLE_OPTIONS: {"mode": ["bicubic"]}}, f"{UPSAMPLE_OPTIONS}.mode",
                 ["'bicubic' is not offered", "allowed: nearest, bilinear"]),
    pytest.param({"generator.block_options": {"conv": {"mode": ["nearest"]}}}, "generator.block_options.conv",
                 ["not in generator.blocks"]),
]


@pytest.mark.parametrize("changes, key, expected", REGISTRY_ERRORS,
                         ids=[(c.values if hasattr(c, "values") else c)[1] for c in REGISTRY_ERRORS])
def test_registry_error_names_key_and_what_is_allowed(write_study, changes, key, expected):
    err = prepare_error(write_study(changes))
    assert err.key == key
    for fragment in expected:
        assert fragment in err.message


def test_missing_folder_names_the_path(write_study, tmp_path):
    err = prepare_error(write_study({"data": {"name": "folder", "resolution": 16, "path": "missing/imgs"}}))
    assert err.key.startswith("data")
    assert str(tmp_path / "missing" / "imgs") in err.message and "does not exist" in err.message


def test_block_options_narrow_a_blocks_choices(write_study):
    p = prepare(write_study({UPSAMPLE_OPTIONS: {"mode": ["bilinear"]}}), entry_points=False, load_data=False)
    assert p.space.nets["generator"].block_options["upsample_conv"] == {"mode": ("bilinear",)}


def test_valid_study_prepares(write_study):
    p = prepare(write_study(), entry_points=False)
    assert p.data.shape[1:] == (1, 16, 16)
    assert p.space.nets["generator"].block_options["upsample_conv"] == {"mode": ("nearest", "bilinear")}


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: t\ndata: {name: digits, resolution: 16}\ngenerator: &g {blocks: [deconv], widths: [32, 64]}\n"
                    "discriminator: {<<: *g, blocks: [conv], widths: [64]}\n")
    c = load_config(path)
    assert c.discriminator.blocks == ["conv"] and c.discriminator.widths == [64]


# -- property: whatever YAML arrives, the loader answers with a config or one error line ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

KEYS = ["name", "data", "generator", "discriminator", "train", "score", "blocks", "kernels", "strides", "depth",
        "widths", "norms", "low", "high", "log", "steps", "lr_g", "batch_size", "resolution", "workers",
        "devices", "plugins", "samples", "metrics", "seed", "n_trials", "output", "storage", "block_options"]
scalars = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
           | st.text(max_size=20) | st.sampled_from(["digits", "conv", "deconv", "auto", "cpu", "1e-4", "tpe"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6),
                      max_leaves=40)


def loads_or_one_line(tmp_path, text: str):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config(path)
    except StudyConfigError as exc:  # one problem, or several (StudyConfigErrors): each one line
        for problem in getattr(exc, "problems", [exc]):
            message = str(problem)
            assert message.startswith(f"{path}: ") and "\n" not in message, message
        return
    assert isinstance(config, StudyConfig)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(st.sampled_from(KEYS), values, max_size=8) | values)
def test_random_yaml_documents_load_or_fail_in_one_line(tmp_path, document):
    loads_or_one_line(tmp_path, yaml.safe_dump(document, allow_unicode=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("abnme:{}[]-&*!|>'\"#,.0123456789 \n\t%@`?")), max_size=120))
def test_random_yaml_text_loads_or_fails_in_one_line(tmp_path, text):
    loads_or_one_line(tmp_path, text)


def test_a_dataset_smaller_than_score_samples_is_one_warning(write_study):
    import warnings

    import gansearch

    small = write_study({"data": {"name": "shapes", "resolution": 16, "count": 100}, "score": {"samples": 256}})
    with pytest.warns(gansearch.GansearchWarning, match="the dataset has 100 images, fewer than score.samples"):
        prepare(small)
    enough = write_study({"data": {"name": "shapes", "resolution": 16, "count": 300}, "score": {"samples": 256}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", gansearch.GansearchWarning)
        prepare(enough)


@pytest.mark.parametrize("fields, limit", [({}, None), ({"timeout": 25}, 25), ({"timeout": 25, "trial_timeout": 5}, 5),
                                          ({"trial_timeout": 60}, 60)])
def test_a_trials_time_limit_defaults_to_the_studys_budget(fields, limit):
    assert config_from_dict(with_changes(fields)).trial_limit == limit
