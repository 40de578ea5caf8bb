"""The study file's JSON Schema, generated from the dataclasses in ``gansearch.config``.

Those dataclasses stay the one definition: ``study_schema()`` walks their type hints and defaults,
takes each class's docstring and each field's trailing comment as descriptions, and adds the fixed
choices (sampler, pruner, loss) and the few limits that ``config.py`` names as constants. A field added
there shows up here without an edit.

Editors use it to check and complete study.yaml as you type. For VS Code with the YAML extension (or
any editor running yaml-language-server)::

    gansearch schema -o study.schema.json

and make this the first line of study.yaml::

    # yaml-language-server: $schema=study.schema.json

The loader (``load_config``) remains the judge: the schema cannot say that a range's low is below its
high, that base_resolution divides the resolution, or which blocks and datasets are registered, and
it wants numbers unquoted, as YAML 1.2 editors read ``1e-4``.
"""

import dataclasses
import inspect
import io
import json
import textwrap
import tokenize
import types
import typing
from typing import Any, Union

from gansearch.config._load import (
    ACTIVATIONS, LIMITS, LOSSES, MAX_LIST, MIN_SAMPLES, NAME_MAX, NORMS, PRECISIONS, PRUNERS, SAMPLERS, DataConfig,
    Param, StudyConfig,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENUMS = {"StudyConfig.sampler": SAMPLERS, "StudyConfig.pruner": PRUNERS, "TrainSpace.loss": LOSSES,
         "TrainSpace.precision": PRECISIONS, "NetSpace.norms": NORMS, "NetSpace.activations": ACTIVATIONS}
FLOAT = {"type": "string", "pattern": r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"}  # 1e-4: a string in YAML 1.1
BOUNDS = {  # (minimum, maximum) of a number, or of a list's numbers, read from config.py's limits
    "StudyConfig.n_trials": (1, LIMITS["n_trials"]), "StudyConfig.workers": (1, LIMITS["workers"]),
    "StudyConfig.trials_per_worker": (1, LIMITS["trials_per_worker"]),
    "StudyConfig.seed": (0, 2**32 - 1), "ScoreConfig.feature_seed": (0, 2**32 - 1),
    "DataConfig.resolution": (4, LIMITS["data.resolution"]), "TrainSpace.steps": (1, LIMITS["train.steps"]),
    "TrainSpace.eval_every": (1, LIMITS["train.eval_every"]),
    "ScoreConfig.samples": (MIN_SAMPLES, LIMITS["score.samples"]),
    "NetSpace.kernels": (1, LIMITS["kernels"]), "NetSpace.strides": (1, LIMITS["strides"]),
    "NetSpace.widths": (1, LIMITS["widths"]),
}
NAME = {"pattern": f"^[^/\\\\\\x00-\\x1f]{{1,{NAME_MAX}}}$", "not": {"enum": [".", ".."]}}  # a plain file name
REST = {DataConfig: "options"}  # the field that collects a mapping's other keys (data: -> dataset options)
_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}


def study_schema() -> dict:
    """The study file as a JSON Schema (draft 2020-12)."""
    defs: dict[str, dict] = {}
    root = _object(StudyConfig, defs)
    return {"$schema": DIALECT, "title": "gansearch study", **root, "$defs": dict(sorted(defs.items()))}


def _object(cls, defs) -> dict:
    """A dataclass as an object schema: its fields, which are required, and no other keys."""
    comments = _field_comments(cls)
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or f.name == REST.get(cls):
            continue
        where = f"{cls.__name__}.{f.name}"
        prop = _field_schema(hints[f.name], where, f, defs)
        if where in BOUNDS:
            low, high = BOUNDS[where]
            target = prop["items"] if prop.get("type") == "array" else prop
            target.update(minimum=low, maximum=high)
        if where == "StudyConfig.name":
            prop.update(NAME)
        if where in comments:
            prop = {"description": comments[where], **prop}
        default = _default(f, hints[f.name])
        if default is not dataclasses.MISSING:
            prop["default"] = default
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        properties[f.name] = prop
    doc = _docstring(cls)
    schema = {"description": doc} if doc else {}
    schema.update(type="object", properties=properties)
    if required:
        schema["required"] = required
    if cls in REST:  # any other key is passed on; the field's own name is refused by the loader
        schema["additionalProperties"] = True
        schema["not"] = {"required": [REST[cls]]}
    else:
        schema["additionalProperties"] = False
    return schema


def _field_schema(hint, where, f, defs) -> dict:
    if hint is Param:
        return _param(type(f.default), ENUMS.get(where), defs)
    schema = _schema(hint, defs)
    if f.metadata.get("may_be_empty"):
        schema.pop("minItems", None)
    if where in ENUMS:
        allowed = {"enum": list(ENUMS[where])}
        lists = [b for b in schema.get("anyOf", [schema]) if b.get("type") == "array"]
        for branch in lists:  # a list (of names): each item is one of them
            branch["items"] = allowed
        if not lists:
            schema = allowed
    return schema


def _schema(hint, defs) -> dict:
    """A type hint as a schema; dataclasses go to ``$defs`` once and are referenced."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        name = hint.__name__
        if name not in defs:
            defs[name] = {}  # reserved first, so a class that refers to itself ends
            defs[name] = _object(hint, defs)
        return {"$ref": f"#/$defs/{name}"}
    if origin is Union or origin is types.UnionType:
        branches = [_schema(arg, defs) for arg in typing.get_args(hint)]
        if all(set(b) == {"type"} for b in branches):
            return {"type": [b["type"] for b in branches]}
        return {"anyOf": branches}
    if origin is list:
        (item,) = typing.get_args(hint)
        return {"type": "array", "items": _schema(item, defs), "minItems": 1, "maxItems": MAX_LIST}  # not []
    if origin is dict:
        _, item = typing.get_args(hint)
        return {"type": "object"} if item is Any else {"type": "object", "additionalProperties": _schema(item, defs)}
    if hint is Any:
        return {}
    if hint is float:  # what the loader reads as a number: YAML 1.1 leaves 1e-4 a string, and it is taken
        return {"anyOf": [{"type": "number"}, FLOAT]}
    if hint in _JSON_TYPES:
        return {"type": _JSON_TYPES[hint]}
    raise TypeError(f"no JSON Schema for {hint!r}")  # a new kind of hint in config.py: teach _schema it


def _param(kind, enum, defs) -> dict:
    """A training hyperparameter: a fixed value, a list of choices, or a range (numbers only).

    Its kind is its default's: ``64`` an integer, ``2e-4`` a number, ``"ns"`` a string."""
    one = ({"enum": list(enum)} if enum else {"anyOf": [{"type": "number"}, FLOAT]} if kind is float
           else {"type": _JSON_TYPES.get(kind, ["number", "string"])})
    branches = [one, {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_LIST}]
    if kind is not str:
        branches.append(_schema(typing.get_args(Param)[0], defs))
    return {"anyOf": branches}


def _default(f, hint):
    """A field's default as JSON, or MISSING where there is none worth showing (a whole section)."""
    if dataclasses.is_dataclass(hint):
        return dataclasses.MISSING
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return dataclasses.MISSING
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return dataclasses.MISSING
    return value


def _docstring(cls) -> str | None:
    doc = inspect.getdoc(cls)
    if not doc or doc.startswith(f"{cls.__name__}("):  # dataclass's own stand-in: the signature
        return None
    return doc.replace("``", "")


def _field_comments(cls) -> dict[str, str]:
    """``{"Class.field": comment}`` from the trailing comments on the field lines in config.py."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source shipped: the schema just has fewer descriptions
        return {}
    fields = {f.name for f in dataclasses.fields(cls)}
    comments, line, depth = {}, [], 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.INDENT:
            depth += 1
        elif tok.type == tokenize.DEDENT:
            depth -= 1
        elif tok.type == tokenize.NEWLINE:
            names = [t for t in line if t.type != tokenize.COMMENT]
            notes = [t.string.lstrip("#").strip() for t in line if t.type == tokenize.COMMENT]
            if (depth == 1 and len(names) > 1 and names[0].string in fields and names[1].string == ":"
                    and notes):
                comments[f"{cls.__name__}.{names[0].string}"] = notes[-1]
            line = []
        elif tok.type != tokenize.NL:
            line.append(tok)
    return comments
