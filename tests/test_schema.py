"""`gansearch schema`: a JSON Schema generated from config.py that agrees with the loader."""

import dataclasses
import json
import re
import typing
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from gansearch.cli import cli
from gansearch.config import StudyConfig, TrainSpace
from gansearch.config import _load as config
from gansearch.config import config_from_dict, study_schema
from gansearch.config._load import _TRAIN_RULES
from gansearch.config._schema import BOUNDS, ENUMS, REST, _object
from gansearch.errors import StudyConfigError

from conftest import DELETE, VALID_STUDY, with_changes

ROOT = Path(__file__).parents[1]
REFERENCE_STUDY = next(body for body in re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "study-file.md").read_text(),
                                                   flags=re.S) if body.startswith("name: quickstart"))


@pytest.fixture(scope="module")
def schema():
    return study_schema()


@pytest.fixture(scope="module")
def validator(schema):
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_is_a_draft_2020_12_schema(schema, validator):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "gansearch study" and "$id" not in schema
    assert schema["required"] == ["name", "data", "generator", "discriminator"]
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("path", sorted((ROOT / "studies").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_study_validates_and_loads(validator, path):
    from gansearch.config import load_config

    assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []
    load_config(path)  # the loader agrees


def test_readme_study_and_the_smallest_study_validate(validator):
    assert list(validator.iter_errors(yaml.safe_load(REFERENCE_STUDY))) == []
    assert list(validator.iter_errors(VALID_STUDY)) == []


BAD = {  # refused by the loader (its key) and by the schema (at that key or its parent)
    "unknown_top_key": ({"nme": "x"}, "nme"),
    "unknown_nested_key": ({"generator.depht": 3}, "generator.depht"),
    "unknown_range_key": ({"train.lr_g": {"low": 1e-4, "hi": 1e-3}}, "train.lr_g.hi"),
    "string_for_list": ({"generator.kernels": "3"}, "generator.kernels"),
    "wrong_item_type": ({"generator.kernels": [3, "4"]}, "generator.kernels.1"),
    "string_for_int": ({"data.resolution": "16"}, "data.resolution"),
    "bool_for_int": ({"n_trials": True}, "n_trials"),
    "missing_required": ({"data": DELETE}, "data"),
    "empty_list": ({"generator.blocks": []}, "generator.blocks"),
    "bad_sampler": ({"sampler": "bayes"}, "sampler"),
    "bad_pruner": ({"pruner": "asha"}, "pruner"),
    "bad_loss_choice": ({"train.loss": ["ns", "wgan"]}, "train.loss.1"),
    "loss_range": ({"train.loss": {"low": 1, "high": 2}}, "train.loss"),
    "too_few_samples": ({"score.samples": 16}, "score.samples"),
    "data_options_key": ({"data.options": {"path": "x"}}, "data.options"),
    "huge_width": ({"generator.widths": [100_000_000]}, "generator.widths.0"),
    "name_dotdot": ({"name": ".."}, "name"),
    "name_slash": ({"name": "a/b"}, "name"),
    "name_too_long": ({"name": "x" * 101}, "name"),
    "absurd_workers": ({"workers": 100_000}, "workers"),
    "resolution_too_big": ({"data.resolution": 4096}, "data.resolution"),
    "too_many_widths": ({"discriminator.widths": list(range(1, 101))}, "discriminator.widths"),
    "unknown_norm": ({"generator.norms": ["spectral"]}, "generator.norms.0"),
    "unknown_activation": ({"discriminator.activations": ["swish"]}, "discriminator.activations.0"),
}

GOOD = {  # accepted by the loader and by the schema alike
    "yaml11_float_strings": {"train.lr_g": {"low": "1e-4", "high": "1e-3", "log": True}},  # YAML 1.1 reads 1e-4 so
    "float_string_fixed": {"train.lr_d": "2e-4"},
    "float_string_choices": {"train.beta1": ["0.5", "9e-1"]},
    "every_norm": {"generator.norms": ["none", "batch", "instance", "layer"]},
    "activations": {"discriminator.activations": ["lrelu", "silu"]},
    "a_range": {"generator.depth": {"low": 1, "high": 3}},
}


@pytest.mark.parametrize("changes", GOOD.values(), ids=GOOD.keys())
def test_what_the_loader_accepts_the_schema_accepts(validator, changes):
    study = with_changes(changes)
    config_from_dict(study, file="s.yaml")
    assert list(validator.iter_errors(study)) == []


def test_a_study_file_s_yaml_as_written_is_judged_alike(validator, tmp_path):
    from gansearch.config import load_config

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(with_changes({}), sort_keys=False) + "train: {lr_g: {low: 1e-4, high: 1e-3}}\n")
    load_config(path)
    assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []


@pytest.mark.parametrize("changes, key", BAD.values(), ids=BAD.keys())
def test_what_the_loader_refuses_the_schema_refuses(validator, changes, key):
    study = with_changes(changes)
    with pytest.raises(StudyConfigError) as err:
        config_from_dict(study, file="s.yaml")
    assert err.value.key == key
    errors = list(validator.iter_errors(study))
    assert errors
    paths = {".".join(map(str, e.absolute_path)) for e in errors}
    assert any(key == p or key.startswith(f"{p}.") or (not p and "." not in key) for p in paths), paths


def test_dataset_options_are_allowed_under_data(validator):
    assert list(validator.iter_errors(with_changes({"data": {"name": "folder", "resolution": 16, "path": "x"}}))) == []


def _sections(cls, schema, top):
    """Yield (dotted path, dataclass field, its schema) for every field, following nested dataclasses."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or f.name == REST.get(cls):
            continue
        prop = schema["properties"][f.name]  # a KeyError here: a field config.py has and the schema lacks
        yield f.name, f, prop
        if dataclasses.is_dataclass(hints[f.name]):
            sub = top["$defs"][prop["$ref"].rsplit("/", 1)[1]]
            for path, g, p in _sections(hints[f.name], sub, top):
                yield f"{f.name}.{path}", g, p


def _dataclasses(hint, seen):
    """Every dataclass the study file's type hints reach."""
    if dataclasses.is_dataclass(hint) and hint not in seen:
        seen.append(hint)
        for sub in typing.get_type_hints(hint).values():
            _dataclasses(sub, seen)
    for arg in typing.get_args(hint):
        _dataclasses(arg, seen)
    return seen


def test_every_field_of_config_py_is_in_the_schema_and_nothing_else(schema):
    classes = _dataclasses(StudyConfig, [])
    assert {c.__name__ for c in classes} == {"StudyConfig", *schema["$defs"]}
    for cls in classes:
        target = schema if cls is StudyConfig else schema["$defs"][cls.__name__]
        fields = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal") and f.name != REST.get(cls)]
        assert list(target["properties"]) == fields, cls.__name__
    assert "file" not in schema["properties"]  # internal


def test_every_default_in_the_schema_is_accepted_by_the_loader(schema):
    for path, f, prop in _sections(StudyConfig, schema, schema):
        if "default" in prop:
            config_from_dict(with_changes({path: prop["default"]}))


def test_enums_and_bounds_name_real_fields():
    for where in [*ENUMS, *BOUNDS]:
        cls, name = where.split(".")
        assert name in {f.name for f in dataclasses.fields(getattr(config, cls))}, where


def test_a_training_parameters_kind_is_its_defaults():
    """The schema types train.* by each default (64: integer, 2e-4: number, "ns": string); the loader's rules agree."""
    for name, (kind, *_) in _TRAIN_RULES.items():
        assert type(getattr(TrainSpace(), name)) is kind, name


def test_a_new_dataclass_field_and_its_comment_show_up():
    @dataclasses.dataclass
    class Extra:
        """Something new."""

        size: int  # how big
        mode: str | None = "fast"  # how: fast or slow
        tags: list[str] = dataclasses.field(default_factory=lambda: ["a"])

    schema = _object(Extra, {})
    assert schema == {
        "description": "Something new.", "type": "object", "required": ["size"], "additionalProperties": False,
        "properties": {"size": {"description": "how big", "type": "integer"},
                       "mode": {"description": "how: fast or slow", "type": ["string", "null"], "default": "fast"},
                       "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 64,
                                "default": ["a"]}}}


def test_top_level_keys_are_described(schema):
    for name, prop in schema["properties"].items():
        described = prop.get("description") or schema["$defs"].get(prop.get("$ref", "/").rsplit("/", 1)[1], {}).get(
            "description")
        assert described, name


def test_cli_prints_the_schema(tmp_path):
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == study_schema()
    out = tmp_path / "study.schema.json"
    result = CliRunner().invoke(cli, ["schema", "-o", str(out)])
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text()) == study_schema()
