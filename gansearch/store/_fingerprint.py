"""What must not change between runs of one study, and the check that it did not."""

import dataclasses
import json

import optuna

from gansearch.config._load import StudyConfig
from gansearch.errors import StudyConfigError


def fingerprint(config: StudyConfig) -> dict:
    """What must not change between runs of one study: the search space, the data and the score."""
    raw = {k: v for k, v in dataclasses.asdict(config).items()
           if k in ("data", "generator", "discriminator", "train", "score")}
    raw["train"].pop("cuda_graphs")  # resuming on another device, or eagerly, is fine
    raw["train"].pop("precision")  # likewise how the arithmetic is done
    raw["score"].pop("metrics")  # what else is stored may grow; the objective may not change
    raw["score"].pop("inception_weights")  # the same weights may move
    if raw["train"].get("augment") == "none":  # keys added later, at their defaults: studies begun before match
        raw["train"].pop("augment")
    if config.objectives:
        raw["objectives"] = list(config.objectives)
    if config.task == "translate":
        raw["task"], raw["translate"] = config.task, dataclasses.asdict(config.translate)
        raw["translate"]["split"] = "by class"  # held-out pairs drawn class by class (before: one plain draw)
    else:
        raw["train"].pop("l1_weight", None)  # only translate studies use it
    return json.loads(json.dumps(raw, default=str))


def _first_difference(old, new, key=""):
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            found = _first_difference(old.get(k), new.get(k), f"{key}.{k}" if key else k)
            if found:
                return found
        return None
    return (key, old, new) if old != new else None


def _has_key(tree: dict, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def check_unchanged(study: optuna.Study, config: StudyConfig, record: bool = True) -> None:
    """A resumed study must search the same space: editing it mid-study would mix incomparable trials. A new
    study's fingerprint is recorded (unless ``record`` is False: a check before the run starts)."""
    stored = study.user_attrs.get("gansearch_fingerprint")
    current = fingerprint(config)
    if stored is None:
        if record:
            study.set_user_attr("gansearch_fingerprint", current)
        return
    diff = _first_difference(stored, current)
    if diff and not _has_key(stored, diff[0]):  # a key this study's gansearch did not have
        key, _, new = diff
        raise StudyConfigError(f"this study was created by an older gansearch, without {key} (now {new!r}): "
                               "its scores are not comparable; give the study a new name", file=config.file, key=key)
    if diff:
        key, old, new = diff
        raise StudyConfigError(f"changed from {old!r} to {new!r} since the study started; a study's search "
                               "space, data and score are fixed: restore it, or give the study a new name",
                               file=config.file, key=key)
