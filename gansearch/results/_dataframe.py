"""The trial dataframe: one row per trial, every parameter its own column, plus what the search derived."""

from pathlib import Path

import optuna
import pandas as pd
import torch

from gansearch.config._load import load_config
from gansearch.confirm._runner import load_confirmation
from gansearch.errors import GansearchError, StudyNotFound
from gansearch.nets._builder import Generator, Translator
from gansearch.nets._spec import ArchSpec
from gansearch.plugins._registry import load_registry
from gansearch.search._objectives import score_of
from gansearch.store._open import open_study
from gansearch.store._record import COLUMNS, IDENTITY

DERIVED = ("baseline", *COLUMNS, "rerun_of", "restored_from")  # the trial's record, and how it was enqueued
TIE_SE = 2  # trials within this many standard errors of the best score are ties


def trials_dataframe(study_file) -> pd.DataFrame:
    """All trials of the study described by ``study_file`` (a study.yaml path) as a DataFrame.

    Columns: ``number``, ``state``, ``score``, ``score_se`` (its standard error), ``tie`` (within two
    standard errors of the best score), ``duration_s``, each parameter by its dotted name
    (``g.strides``, ``g.0.block``, ``lr_g``, ...), per-layer ``g.0.stride``..., ``g_params``,
    ``d_params``, ``g_macs`` / ``d_macs`` (multiply-accumulates per image), ``g_latency_ms`` (median ms per
    batch of ``latency_batch`` generated images on the trial's device), ``steps``, ``pruned_at``, ``failure``, where the trial's wall time went (``setup_s``:
    building the pair, warm-up and CUDA graph capture; ``train_s``; ``score_s``; ``artifacts_s``:
    writing its files), ``step_mode`` (eager or cuda_graph), ``train_precision`` (fp32, tf32 or bf16),
    ``graph_fallback``, ``worker``, ``rerun_of`` (the trial a killed worker left unfinished),
    ``restored_from`` (a trial rebuilt from its ``trial.json`` after the storage was lost), ``baseline``
    (the hand design's name on its trial), every metric of a complete trial with its ``<metric>_se``
    (``fd``, ``kid``, ``precision``, ``recall``, ``fd@classifier``, ``coverage``, ``spectrum``,
    ``checkerboard``, ...), and absolute ``samples`` / ``generator`` paths. Once ``gansearch confirm`` has
    run: ``confirmed_score`` (the mean over seeds at the longer budget), ``confirmed_sd``, ``confirmed_se``,
    ``confirmed_seeds``, ``confirmed_rank`` and ``confirmed_<metric>`` / ``confirmed_<metric>_sd``
    (``add_confirmed_columns``).
    """
    config = load_config(study_file)
    study = open_study(config, create=False)
    return frame(study, config.output_dir, load_confirmation(config, study))


def frame(study, output_dir: Path, confirmed=None) -> pd.DataFrame:
    """The trial dataframe of an open ``study`` (``confirmed``: its confirmation, ``gansearch.confirm``)."""
    rows, param_names, metric_names = [], [], []
    multi = len(study.directions) > 1
    front = {t.number for t in study.best_trials} if multi else set()
    for t in study.get_trials(deepcopy=False):
        for name in t.params:
            if name not in param_names:
                param_names.append(name)
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        row = {"number": t.number, "state": t.state.name.lower(), "score": score_of(t),
               "score_se": t.user_attrs.get("score_se"), "duration_s": duration, **t.params}
        for name, value in (t.user_attrs.get("metrics") or {}).items():
            row[name] = value
            if name not in metric_names:
                metric_names.append(name)
        row.update({k: t.user_attrs.get(k) for k in DERIVED})
        if t.state == optuna.trial.TrialState.PRUNED:  # what it scored when it was stopped (not comparable with
            reported = t.intermediate_values or {int(k): v for k, v in (t.user_attrs.get("reported") or {}).items()}
            row["score_at_pruning"] = reported[max(reported)] if reported else None  # a trained trial's score)
        arch = t.user_attrs.get("arch")
        for net, prefix in (("generator", "g"), ("discriminator", "d")):
            plain = arch and (net == "discriminator" or arch.get("task", "generate") == "generate")
            if plain and row.get(f"{prefix}.strides") is None:  # a fixed design (a baseline outside the space)
                row[f"{prefix}.strides"] = "-".join(str(layer["stride"]) for layer in arch[net]["layers"])
            for i, layer in enumerate(arch[net]["layers"] if arch else ()):
                for key in ("stride", "block", "kernel"):  # from the architecture: one column per layer,
                    name = f"{prefix}.{i}.{key}"  # whatever the parameter was called (g.0.block_d2, ...)
                    row[name] = layer[key]
                    if name not in param_names:
                        param_names.append(name)
        for key in ("samples", "generator"):
            rel = t.user_attrs.get(key)
            row[key] = str(output_dir / rel) if rel else None
        row["datetime_start"] = t.datetime_start
        if multi:
            row["pareto"] = t.number in front
        rows.append(row)
    columns = ["number", "state", "score", "score_se", "tie", *(["pareto"] if multi else []), "duration_s",
               *param_names, *DERIVED, "score_at_pruning", *metric_names, "samples", "generator", "datetime_start"]
    df = pd.DataFrame(rows, columns=columns)
    df["tie"] = ties(df)
    identity = study.user_attrs.get(IDENTITY)
    if identity:  # a translate study: does each complete trial beat doing nothing (the conditions as outputs)?
        reference = identity["metrics"][identity["objective"]]
        df["beats_identity"] = [None if s != "complete" or v != v else bool(v < reference)
                                for s, v in zip(df["state"], df["score"])]
        df.attrs["identity"] = {"score": reference, "score_se": identity["metrics"][f"{identity['objective']}_se"],
                                "metrics": identity["metrics"]}
    if confirmed is not None:
        add_confirmed_columns(df, confirmed)
    for col in df.columns:  # integer columns with gaps (layers some trials lack) stay integers
        values = [row[col] for row in rows if row.get(col) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            df[col] = df[col].astype("Int64")
    return df


def add_confirmed_columns(df: pd.DataFrame, summary) -> None:
    """The confirmation of each confirmed trial: ``confirmed_score`` (mean over seeds), ``confirmed_sd``,
    ``confirmed_se``, ``confirmed_seeds``, ``confirmed_rank``, and each metric's ``confirmed_<metric>`` and
    ``confirmed_<metric>_sd``; the summary itself in ``df.attrs["confirmed"]``."""
    rows = {r.number: r for r in summary.rows}
    pick = lambda f: [f(rows[n]) if n in rows else None for n in df["number"]]  # noqa: E731
    df["confirmed_score"] = pick(lambda r: r.score)
    df["confirmed_sd"] = pick(lambda r: r.sd)
    df["confirmed_se"] = pick(lambda r: r.se)
    df["confirmed_seeds"] = pd.array(pick(lambda r: r.seeds), dtype="Int64")
    df["confirmed_rank"] = pd.array(pick(lambda r: r.rank), dtype="Int64")
    for name in dict.fromkeys(k for r in summary.rows for k in r.metrics):
        df[f"confirmed_{name}"] = pick(lambda r: r.metrics.get(name, (None, None))[0])
        df[f"confirmed_{name}_sd"] = pick(lambda r: r.metrics.get(name, (None, None))[1])
    df.attrs["confirmed"] = summary


def ties(df: pd.DataFrame) -> pd.Series:
    """True for complete trials whose score is within two standard errors of the best one's (the best
    included): the standard error of the difference, sqrt(se² + se_best²), where both are known."""
    complete = df[(df["state"] == "complete") & df["score"].notna()]
    out = pd.Series(False, index=df.index, dtype=bool)
    if complete.empty:
        return out
    best = complete.loc[complete["score"].idxmin()]
    se = complete["score_se"].astype(float).fillna(0.0)
    margin = TIE_SE * (se**2 + (0.0 if pd.isna(best["score_se"]) else float(best["score_se"])) ** 2) ** 0.5
    out.loc[complete.index] = (complete["score"] - best["score"]) <= margin
    return out


def best_trial(study_file):
    """The study's best complete trial (an ``optuna.trial.FrozenTrial``) by its quality score; pruned
    trials never count. A multi-objective study's Pareto set: ``pareto_trials``."""
    config = load_config(study_file)
    return _best(open_study(config, create=False), study_file)


def pareto_trials(study_file) -> list:
    """A multi-objective study's Pareto-optimal trials (Optuna's ``best_trials``), best score first."""
    study = open_study(load_config(study_file), create=False)
    return sorted(study.best_trials, key=score_of) if len(study.directions) > 1 else [_best(study, study_file)]


def _best(study, study_file):
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise GansearchError(f"{study_file}: no complete trial yet")
    return min(complete, key=score_of)


def load_generator(study_file, number: int | None = None, device="cpu") -> Generator | Translator:
    """Rebuild a trial's generator from storage alone (its stored spec and weights); default: the best."""
    config = load_config(study_file)
    study = open_study(config, create=False)
    trial = _best(study, study_file) if number is None else next(
        (t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None:
        raise StudyNotFound(f"{study_file}: no trial number {number}")  # the user named it: bad input, exit 2
    if "arch" not in trial.user_attrs or "generator" not in trial.user_attrs:
        raise StudyNotFound(f"{study_file}: trial {trial.number} has no stored generator (state "
                            f"{trial.state.name.lower()})")
    registry = load_registry(config.plugins, base_dir=config.base_dir)
    arch = ArchSpec.from_dict(trial.user_attrs["arch"])
    g = (Translator if arch.task == "translate" else Generator)(arch, registry)
    weights = config.output_dir / trial.user_attrs["generator"]
    try:
        state = torch.load(weights, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise StudyNotFound(f"{study_file}: trial {trial.number}'s weights are missing: {weights} (was its folder "
                            "deleted or moved?)") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:  # torn, truncated or not a state dict
        raise GansearchError(f"{study_file}: trial {trial.number}'s weights cannot be read: {weights}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    try:
        g.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise GansearchError(f"{study_file}: trial {trial.number}'s weights do not fit its architecture: {weights}: "
                             f"{str(exc).splitlines()[0]}") from None
    return g.to(device).eval()
