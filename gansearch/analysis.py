"""The trial dataframe: one row per trial, every parameter its own column, plus what the search derived."""

from pathlib import Path

import optuna
import pandas as pd
import torch

from .builder import Generator
from .config import load_config
from .errors import GansearchError
from .plugins import load_registry
from .spec import ArchSpec
from .study import open_study

DERIVED = ("g_params", "d_params", "steps", "pruned_at", "failure", "score_s", "step_mode", "graph_fallback", "worker")


def trials_dataframe(study_file) -> pd.DataFrame:
    """All trials of the study described by ``study_file`` (a study.yaml path) as a DataFrame.

    Columns: ``number``, ``state``, ``score``, ``duration_s``, each parameter by its dotted name
    (``g.strides``, ``g.0.block``, ``lr_g``, ...), per-layer ``g.0.stride``..., ``g_params``,
    ``d_params``, ``steps``, ``pruned_at``, ``failure``, ``score_s`` (time spent scoring),
    ``step_mode`` (eager or cuda_graph), ``graph_fallback``, and absolute ``samples`` / ``generator`` paths.
    """
    config = load_config(study_file)
    study = open_study(config, create=False)
    return frame(study, config.output_dir)


def frame(study, output_dir: Path) -> pd.DataFrame:
    rows, param_names = [], []
    for t in study.get_trials(deepcopy=False):
        for name in t.params:
            if name not in param_names:
                param_names.append(name)
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        row = {"number": t.number, "state": t.state.name.lower(), "score": t.value, "duration_s": duration,
               **t.params}
        row.update({k: t.user_attrs.get(k) for k in DERIVED})
        arch = t.user_attrs.get("arch")
        for net, prefix in (("generator", "g"), ("discriminator", "d")):
            for i, layer in enumerate(arch[net]["layers"] if arch else ()):
                name = f"{prefix}.{i}.stride"  # derived from the stride plan: one column per layer
                row[name] = layer["stride"]
                if name not in param_names:
                    param_names.append(name)
        for key in ("samples", "generator"):
            rel = t.user_attrs.get(key)
            row[key] = str(output_dir / rel) if rel else None
        row["datetime_start"] = t.datetime_start
        rows.append(row)
    columns = ["number", "state", "score", "duration_s", *param_names, *DERIVED, "samples", "generator",
               "datetime_start"]
    df = pd.DataFrame(rows, columns=columns)
    for col in df.columns:  # integer columns with gaps (layers some trials lack) stay integers
        values = [row[col] for row in rows if row.get(col) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            df[col] = df[col].astype("Int64")
    return df


def best_trial(study_file):
    """The study's best complete trial (an ``optuna.trial.FrozenTrial``); pruned trials never count."""
    config = load_config(study_file)
    return _best(open_study(config, create=False), study_file)


def _best(study, study_file):
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise GansearchError(f"{study_file}: no complete trial yet")
    return min(complete, key=lambda t: t.value)


def load_generator(study_file, number: int | None = None, device="cpu") -> Generator:
    """Rebuild a trial's generator from storage alone (its stored spec and weights); default: the best."""
    config = load_config(study_file)
    study = open_study(config, create=False)
    trial = _best(study, study_file) if number is None else next(
        (t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None:
        raise GansearchError(f"{study_file}: no trial number {number}")
    if "arch" not in trial.user_attrs or "generator" not in trial.user_attrs:
        raise GansearchError(f"{study_file}: trial {trial.number} has no stored generator")
    registry = load_registry(config.plugins, base_dir=config.base_dir)
    g = Generator(ArchSpec.from_dict(trial.user_attrs["arch"]), registry)
    state = torch.load(config.output_dir / trial.user_attrs["generator"], map_location=device)
    g.load_state_dict(state)
    return g.to(device).eval()
