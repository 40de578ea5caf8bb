"""What each trial leaves on disk, written so that a crash or a full disk never leaves half a file.

``trials/NNNNN/`` holds ``samples.png`` (a grid of samples), ``generator.pt`` (its weights) and
``trial.json`` (parameters, score, state and attributes: enough to rebuild the trial in a new storage
if the journal is ever lost). Every file is written to a temporary name, flushed, then renamed.
"""

import contextlib
import datetime
import errno
import io
import json
import time
from pathlib import Path

import optuna
import torch
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.trial import TrialState

from gansearch.data._images import sample_grid
from gansearch.store._journal import write_atomically

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def trial_dir(output_dir: Path, number: int) -> Path:
    return output_dir / "trials" / f"{number:05d}"


def disk_full_cause(exc: BaseException | None) -> OSError | None:
    """The "no space left" error behind ``exc`` (itself, or anywhere in its chain of causes), or None."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def save_trial(folder: Path, generator: torch.nn.Module, seed: int, record: dict) -> dict[str, Path]:
    """Write one trial's samples, weights and record; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    png = io.BytesIO()
    sample_grid(generator, seed=seed).save(png, format="PNG")
    weights = io.BytesIO()
    torch.save(generator.state_dict(), weights)
    paths = {"samples": folder / "samples.png", "generator": folder / "generator.pt"}
    write_atomically(paths["samples"], png.getvalue())
    write_atomically(paths["generator"], weights.getvalue())
    write_atomically(folder / "trial.json", json.dumps(record, indent=1, default=str).encode())
    return paths


def trial_record(trial: optuna.Trial, state: TrialState, value: float | None, reported: dict[int, float],
                 paths: dict[str, str]) -> dict:
    start = trial.datetime_start
    return {"number": trial.number, "state": state.name, "value": value, "params": trial.params,
            "distributions": {k: distribution_to_json(d) for k, d in trial.distributions.items()},
            "intermediate_values": reported, "user_attrs": {**trial.user_attrs, **paths},
            "datetime_start": start.isoformat() if start else None,
            "datetime_complete": datetime.datetime.now().isoformat()}


def read_record(folder: Path) -> dict | None:
    """A trial's ``trial.json``, or None if it is missing or unreadable."""
    try:
        return json.loads((folder / "trial.json").read_text())
    except (OSError, ValueError):
        return None


def set_aside_old_trials(output_dir: Path) -> Path | None:
    """Move ``trials/`` of an earlier study to ``trials-before-<time>/``, so a new study never writes over
    it. Returns the new folder, or None when there was nothing to move."""
    folder = output_dir / "trials"
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    target = output_dir / f"trials-before-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while target.exists():
        target = output_dir / f"trials-before-{time.strftime('%Y%m%d-%H%M%S')}-{n}"
        n += 1
    folder.rename(target)
    return target


def restore_trials(study: optuna.Study, folder: Path, output_dir: Path) -> int:
    """Add the trials recorded in ``folder/*/trial.json`` to an empty ``study`` under their own numbers
    (a number without a record becomes a failed trial saying so), their files pointing into ``folder``.
    Returns how many were restored from records."""
    records = {}
    for path in folder.glob("*/trial.json"):
        record = read_record(path.parent)
        if isinstance(record, dict) and isinstance(record.get("number"), int):
            records[record["number"]] = (path.parent, record)
    restored = 0
    for number in range(max(records, default=-1) + 1):
        frozen = None
        if number in records:
            with contextlib.suppress(AttributeError, ValueError, KeyError, TypeError):  # damaged: a gap instead
                frozen = frozen_trial(*records[number], output_dir)
        if frozen is None:
            frozen = optuna.trial.create_trial(state=TrialState.FAIL, user_attrs={
                "failure": "restored: no readable trial.json for this trial number"})
        else:
            restored += 1
        study.add_trial(frozen)
    return restored


def frozen_trial(folder: Path, record: dict, output_dir: Path) -> optuna.trial.FrozenTrial:
    state = TrialState[record["state"]]
    attrs = dict(record["user_attrs"])
    for key in ("samples", "generator"):
        if key in attrs and (folder / Path(attrs[key]).name).exists():
            attrs[key] = str((folder / Path(attrs[key]).name).relative_to(output_dir))
    attrs["restored_from"] = str(folder.relative_to(output_dir))
    steps = {int(k): float(v) for k, v in record["intermediate_values"].items()}
    value = record["value"] if state == TrialState.COMPLETE else None
    if state == TrialState.PRUNED and steps and not attrs.get("reported"):  # as Optuna records a pruned
        value = steps[max(steps)]  # single-objective trial: its last reported score
    values = value if isinstance(value, list) else None  # a multi-objective trial's values
    if values is not None:
        value = None
    start, end = (datetime.datetime.fromisoformat(record[k]) if record.get(k) else None
                  for k in ("datetime_start", "datetime_complete"))
    distributions = {k: json_to_distribution(d) for k, d in record["distributions"].items()}
    frozen = optuna.trial.FrozenTrial(
        number=record["number"], state=state, value=value, values=values, datetime_start=start or end,
        datetime_complete=end, params=record["params"], distributions=distributions, user_attrs=attrs,
        system_attrs={}, intermediate_values=steps, trial_id=0)
    frozen._validate()
    return frozen
