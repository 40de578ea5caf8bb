"""What each trial leaves on disk, written so that a crash or a full disk never leaves half a file.

``trials/NNNNN/`` holds ``samples.png`` (a grid of samples), ``generator.pt`` (its weights) and
``trial.json`` (parameters, score, state and attributes: enough to rebuild the trial in a new storage
if the journal is ever lost). Every file is written to a temporary name, flushed, then renamed.
"""

import errno
import io
import json
import time
from pathlib import Path

import optuna
import torch
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.trial import TrialState

from .images import sample_grid
from .journal import write_atomically

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def trial_dir(output_dir: Path, number: int) -> Path:
    return output_dir / "trials" / f"{number:05d}"


def is_disk_full(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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
    return {"number": trial.number, "state": state.name, "value": value, "params": trial.params,
            "distributions": {k: distribution_to_json(d) for k, d in trial.distributions.items()},
            "intermediate_values": reported, "user_attrs": {**trial.user_attrs, **paths}}


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
    """Add every finished trial recorded in ``folder/*/trial.json`` to ``study`` (in trial-number order),
    its artifact paths pointing into ``folder``. Returns how many were restored."""
    restored = 0
    for path in sorted(folder.glob("*/trial.json")):
        record = read_record(path.parent)
        try:
            state = TrialState[record["state"]]
            if state not in (TrialState.COMPLETE, TrialState.PRUNED):
                continue
            attrs = dict(record["user_attrs"])
            for key in ("samples", "generator"):
                if (path.parent / Path(attrs.get(key, "")).name).exists():
                    attrs[key] = str((path.parent / Path(attrs[key]).name).relative_to(output_dir))
            attrs["restored_from"] = str(path.parent.relative_to(output_dir))
            study.add_trial(optuna.trial.create_trial(
                state=state, value=record["value"] if state == TrialState.COMPLETE else None,
                params=record["params"],
                distributions={k: json_to_distribution(d) for k, d in record["distributions"].items()},
                user_attrs=attrs, intermediate_values={int(k): v for k, v in record["intermediate_values"].items()}))
            restored += 1
        except (AttributeError, ValueError, KeyError, TypeError):  # a damaged or missing record: the others still count
            continue
    return restored
