"""What the run summary and ``gansearch best`` show, as data a notebook can use: the best complete trials
(ties within two standard errors marked), the best against the baseline, and a multi-objective study's
Pareto set."""

from dataclasses import asdict, dataclass, field

import pandas as pd

from gansearch.config._load import load_config
from gansearch.confirm._statistics import best_confirmed
from gansearch.errors import GansearchError, StudyNotFound
from gansearch.nets._builder import skip_plan
from gansearch.nets._spec import ArchSpec
from gansearch.plugins._registry import load_registry
from gansearch.results._dataframe import trials_dataframe
from gansearch.store._open import open_study

COSTS = ("g_params", "g_macs", "g_latency_ms")


@dataclass
class Best:
    """The best complete trial of a study (lowest score; pruned trials never count) and its context."""

    number: int
    score: float | None  # None for a trial that did not complete (gansearch best --trial N)
    score_se: float | None
    ties: list[int]  # other complete trials within two standard errors of it
    baseline: dict | None  # {name, number, score, best_over_baseline}: the hand design's trial
    metrics: dict  # every metric with its _se
    params: dict
    arch: dict | None
    train: dict | None
    costs: dict  # g_params, g_macs, g_latency_ms, latency_batch
    samples: str | None  # absolute paths
    generator: str | None
    layers: list[dict] = field(default_factory=list)  # each layer, with its place in U-Net skips (layer_rows)
    pareto: list[dict] | None = None  # a multi-objective study's Pareto set: number, score and each cost
    identity: dict | None = None  # a translate study: what doing nothing scores, and the best over it
    confirmed: dict | None = None  # its confirmation (gansearch confirm): mean, sd, se over seeds, rank, steps
    top: pd.DataFrame = field(default=None, repr=False)  # the best complete trials, the baseline added if beyond them

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("top")
        return out


def layer_rows(arch: dict, registry) -> list[dict]:
    """A trial's layers, generator then discriminator, each with its place in a translator's U-Net skips
    (``skip``: "keeps its input" for a later layer, "joins N channels kept from before", or "")."""
    spec = ArchSpec.from_dict(arch)
    skips = skip_plan(spec, registry) if spec.task == "translate" and spec.generator.skips else None
    rows = []
    for net, prefix in (("generator", "G"), ("discriminator", "D")):
        for i, layer in enumerate(arch[net]["layers"]):
            skip = skips[i] if skips is not None and net == "generator" else None
            notes = ([f"joins {skip.joins} channels kept from before"] if skip and skip.joins else []) + \
                    (["keeps its input for a later layer"] if skip and skip.keeps else [])
            rows.append({"layer": f"{prefix}{i}", **{k: layer[k] for k in ("block", "kernel", "stride", "norm",
                                                                             "activation", "options")},
                         "out": layer["out_channels"], "skip": "; ".join(notes)})
    return rows


def top_trials(df: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """The ``top`` best complete trials by score; the baseline trial is added after them when it is not
    among them."""
    done = df[df["state"] == "complete"].sort_values("score")
    shown = done.head(top)
    baseline = baseline_trials(done)
    if not baseline.empty and baseline.index[0] not in shown.index:
        shown = pd.concat([shown, baseline.head(1)])
    return shown


def baseline_trials(done: pd.DataFrame) -> pd.DataFrame:
    return done[done["baseline"].notna()] if "baseline" in done else done.iloc[:0]


def baseline_summary(done: pd.DataFrame) -> dict | None:
    """The baseline's trial and the best score over its score (None without a complete baseline)."""
    done = done.sort_values("score")
    baseline = baseline_trials(done)
    if baseline.empty or done.empty:
        return None
    base, best = baseline.iloc[0], done.iloc[0]
    return {"name": base["baseline"], "number": int(base["number"]), "score": float(base["score"]),
            "best_number": int(best["number"]),
            "best_over_baseline": float(best["score"] / base["score"]) if base["score"] else float("inf")}


def identity_summary(df: pd.DataFrame) -> dict | None:
    """A translate study's "doing nothing" reference (the held-out conditions as outputs) against the best
    complete trial: {score, score_se, best_number, best_over_identity, trials_not_beating} (None elsewhere)."""
    identity = df.attrs.get("identity")
    done = df[df["state"] == "complete"].sort_values("score")
    if not identity or done.empty:
        return None
    best = done.iloc[0]
    return {"score": identity["score"], "score_se": identity["score_se"], "best_number": int(best["number"]),
            "best_over_identity": float(best["score"] / identity["score"]) if identity["score"] else float("inf"),
            "trials_not_beating": [int(n) for n in done.loc[done["beats_identity"] == False, "number"]]}  # noqa: E712


def pareto_set(df: pd.DataFrame) -> list[dict] | None:
    """A multi-objective study's Pareto set, best score first (None for a single-objective study)."""
    if "pareto" not in df:
        return None
    front = df[df["pareto"] == True].sort_values("score")  # noqa: E712 - a boolean column with gaps
    shown = [k for k in ("g_macs", "g_params", "g_latency_ms", "l1", "psnr", "ssim") if k in df]
    return [{"number": int(r["number"]), "score": float(r["score"]), "score_se": _number(r.get("score_se")),
             "baseline": _text(r.get("baseline")), **{k: _number(r[k]) for k in shown},
             "samples": _text(r.get("samples"))} for _, r in front.iterrows()]


def best(study_file, top: int = 5, number: int | None = None, confirmed: bool = False) -> Best:
    """The best trial of the study in ``study_file`` (or trial ``number``; with ``confirmed``, the best
    confirmed mean, ties within noise going to the fewest generator MACs) with its ties, metrics,
    architecture, costs, files, the baseline comparison, its confirmation and (multi-objective) the Pareto
    set; ``.top`` holds the best ``top`` trials."""
    df = trials_dataframe(study_file)
    done = df[df["state"] == "complete"].sort_values("score")
    summary = df.attrs.get("confirmed")
    ties_confirmed = []
    if confirmed and number is None:
        if summary is None or summary.confirmed_best is None:
            raise StudyNotFound(f"{study_file}: no confirmed trial yet; run `gansearch confirm {study_file}` first")
        pick, others = best_confirmed(summary)
        number, ties_confirmed = pick.number, [r.number for r in others]
    if number is None:
        if done.empty:
            raise GansearchError(f"{study_file}: no complete trial yet")
        number = int(done.iloc[0]["number"])
    trial = next((t for t in open_study(study_file).get_trials(deepcopy=False) if t.number == number), None)
    if trial is None:
        raise StudyNotFound(f"{study_file}: no trial number {number}")
    row = df.set_index("number").loc[number]
    tied = [int(n) for n in done.loc[done["tie"], "number"] if n != number] if bool(row["tie"]) else []
    costs = {k: trial.user_attrs.get(k) for k in (*COSTS, "latency_batch")}
    return Best(number=number, score=_number(row["score"]), score_se=trial.user_attrs.get("score_se"),
                ties=tied, baseline=baseline_summary(done), metrics=trial.user_attrs.get("metrics", {}),
                params=trial.params, arch=trial.user_attrs.get("arch"), train=trial.user_attrs.get("train"),
                costs=costs, samples=_text(row.get("samples")), generator=_text(row.get("generator")),
                layers=_layers(study_file, trial.user_attrs.get("arch")), pareto=pareto_set(df),
                identity=identity_summary(df), confirmed=_confirmed(summary, number, ties_confirmed),
                top=top_trials(df, top))


def _confirmed(summary, number: int, ties: list[int]) -> dict | None:
    row = summary.row(number) if summary is not None else None
    if row is None:
        return None
    base = next((r for r in summary.rows if r.baseline and r.score is not None), None)
    return {"score": row.score, "sd": row.sd, "se": row.se, "seeds": row.seeds, "diverged": row.failed,
            "rank": row.rank, "of": sum(r.rank is not None for r in summary.rows), "steps": summary.steps,
            "metrics": row.metrics, "ties": ties,
            "baseline": None if base is None else {"number": base.number, "name": base.baseline, "score": base.score}}


def _layers(study_file, arch: dict | None) -> list[dict]:
    if arch is None:
        return []
    config = load_config(study_file)
    return layer_rows(arch, load_registry(config.plugins, base_dir=config.base_dir))


def _number(value):
    return None if value is None or pd.isna(value) else float(value)


def _text(value):
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
