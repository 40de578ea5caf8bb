"""``gansearch report``: one self-contained HTML file that shows what a study learned.

Plots are drawn with matplotlib (Agg) and embedded as PNG data URIs, sample grids likewise, so the file
opens offline, anywhere, with nothing fetched. Sections: the optimisation history with the best so far,
parameter importances (Optuna's fANOVA on the quality score), the score against each architectural choice,
the Pareto front of a multi-objective study (else score against generator MACs), pruned and failed trials
with their reasons, a gallery of the best trials' samples beside their layer tables, whether the short
training predicts the long one (``gansearch confirm``), and, looking inside the generators
(``_figures``): the best one's latent interpolations, the best trials' power spectra against the real
data's, and checkerboard artifacts per upsampling block and kernel.
"""

import base64
import html
import warnings
from pathlib import Path

import optuna
import pandas as pd

from gansearch.config._load import load_config
from gansearch.confirm._runner import load_confirmation
from gansearch.errors import GansearchError
from gansearch.plugins._registry import load_registry
from gansearch.results._dataframe import frame, load_generator
from gansearch.results._figures import (
    SPECTRUM_TRIALS, checkerboard_section, confirmation_section, figure_uri, img, latent_section, spectra_plot,
)
from gansearch.results._summaries import identity_summary, layer_rows
from gansearch.search._objectives import score_of
from gansearch.store._open import open_study
from gansearch.study._prepare import prepare

GALLERY = 6  # best trials shown with their samples
FEW_TRIALS = 20  # below this many complete trials, importances carry a caveat
CHOICES_MAX = 12  # score-against-choice panels


_png, _img = figure_uri, img


def history_plot(df: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 3.2))
    done = df[df["state"] == "complete"].sort_values("number")
    pruned = df[df["state"] == "pruned"]
    ax.scatter(done["number"], done["score"], s=18, label="complete", color="#1f77b4")
    ax.plot(done["number"], done["score"].cummin(), color="#d62728", label="best so far", drawstyle="steps-post")
    if "baseline" in done and done["baseline"].notna().any():
        base = done[done["baseline"].notna()]
        ax.scatter(base["number"], base["score"], s=80, marker="*", color="#ff7f0e", label="baseline", zorder=3)
    identity = df.attrs.get("identity")
    if identity:  # a translate study: what doing nothing (the conditions as outputs) scores
        ax.axhline(identity["score"], color="#2ca02c", linestyle="--", linewidth=1, label="identity (doing nothing)")
    stopped = pruned[pruned["score_at_pruning"].notna()] if "score_at_pruning" in pruned else pruned.iloc[:0]
    if not stopped.empty:  # where each was stopped: a partly trained score, not comparable with a complete one
        ax.scatter(stopped["number"], stopped["score_at_pruning"], marker="x", color="#7f7f7f",
                   label="pruned (its score when stopped, partly trained)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel("score (lower is better)")
    ax.legend(fontsize=8)
    ax.set_title("Optimisation history")
    return _img(_png(fig), "optimisation history")


def importance_plot(study, df) -> str:
    import matplotlib.pyplot as plt

    complete = df[df["state"] == "complete"]
    if len(complete) < 3:
        return "<p>Parameter importances need at least 3 complete trials.</p>"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            target = None if len(study.directions) == 1 else score_of
            imp = optuna.importance.get_param_importances(study, target=target)
    except Exception as exc:  # noqa: BLE001 - too few distinct values, a single-choice space, ...
        return f"<p>Parameter importances could not be computed: {html.escape(str(exc))}</p>"
    if not imp:
        return "<p>No parameter varied.</p>"
    names, values = list(imp)[:15][::-1], list(imp.values())[:15][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(names) + 1))
    ax.barh(names, values, color="#2ca02c")
    ax.set_xlabel("importance for the score (fANOVA)")
    ax.set_title("Parameter importances")
    caveat = "" if len(complete) >= FEW_TRIALS else (
        f"<p class='caveat'>Only {len(complete)} complete trials: importances from so few are a rough hint, "
        f"not a finding (fANOVA fits a forest to them; {FEW_TRIALS} or more make them steadier).</p>")
    return caveat + _img(_png(fig), "parameter importances")


def choice_columns(df) -> list[str]:
    """Architectural choices worth a panel: stride plans, depth, blocks and kernels per layer."""
    cols = [c for c in ("g.strides", "d.strides", "g.depth", "d.depth") if c in df]
    cols += [c for c in df.columns if c.endswith((".block", ".kernel")) and c[:2] in ("g.", "d.")]
    return [c for c in cols if df[c].dropna().nunique() > 1][:CHOICES_MAX]


def choices_plot(df) -> str:
    import matplotlib.pyplot as plt

    done = df[df["state"] == "complete"].copy()
    for net in ("g", "d"):
        layers = [c for c in done.columns if c.startswith(f"{net}.") and c.endswith(".stride")]
        done[f"{net}.depth"] = done[layers].notna().sum(axis=1) if layers else None
    cols = choice_columns(done)
    if not cols or done.empty:
        return "<p>No architectural choice varied among the complete trials.</p>"
    n = len(cols)
    fig, axes = plt.subplots((n + 2) // 3, 3, figsize=(10, 2.6 * ((n + 2) // 3)), squeeze=False)
    for ax, col in zip(axes.flat, cols):
        groups = done.groupby(done[col].astype(str))["score"]
        labels = list(groups.groups)
        ax.boxplot([groups.get_group(k).values for k in labels], tick_labels=labels)
        ax.set_title(col, fontsize=9)
        ax.set_ylabel("score (lower is better)", fontsize=8)
        ax.tick_params(labelsize=7, axis="x", rotation=30)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Score against each architectural choice (complete trials)")
    fig.tight_layout()
    return _img(_png(fig), "score against architectural choices")


def compact(value: float) -> str:
    """2000000 -> 2M, 150000 -> 150k, 0.5 -> 0.5: tick labels that fit side by side."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


def front_plot(df, objectives) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    done = df[df["state"] == "complete"]
    costs = [o for o in (objectives or []) if o != "score"] or ["g_macs"]
    costs = [c for c in costs if c in done]
    if done.empty or not costs:
        return "<p>No complete trial with costs yet.</p>"
    fig, axes = plt.subplots(1, len(costs), figsize=(5 * len(costs), 3.4), squeeze=False)
    for ax, cost in zip(axes.flat, costs):
        ax.scatter(done[cost], done["score"], s=18, color="#1f77b4", label="trials")
        if "pareto" in done:
            front = done[done["pareto"] == True].sort_values(cost)  # noqa: E712
            ax.plot(front[cost], front["score"], "o-", color="#d62728", label="Pareto front")
        if done["baseline"].notna().any():
            base = done[done["baseline"].notna()]
            ax.scatter(base[cost], base["score"], s=90, marker="*", color="#ff7f0e", label="baseline", zorder=3)
        identity = df.attrs.get("identity")
        if identity:
            ax.axhline(identity["score"], color="#2ca02c", linestyle="--", linewidth=1, label="identity (doing nothing)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # 1, 2, 5 x 10^k, labelled
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())  # unlabelled: within one decade they would overlap
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel(cost)
        ax.set_ylabel("score (lower is better)")
        ax.legend(fontsize=8)
    fig.suptitle("Quality against cost" + (" (Pareto front)" if "pareto" in done else ""))
    fig.tight_layout()
    return _img(_png(fig), "quality against cost")


def failures_table(df) -> str:
    rows = df[df["state"].isin(["pruned", "fail"])]
    if rows.empty:
        return "<p>No trial was pruned or failed.</p>"
    counts = ", ".join(f"{n} {s}" for s, n in rows["state"].value_counts().items())
    def score_then(r) -> str:
        value = getattr(r, "score_at_pruning", None)
        return f"{value:.4g}" if r.state == "pruned" and value == value and value is not None else "-"

    body = "".join(
        f"<tr><td>{int(r.number)}</td><td>{r.state}</td><td>"
        + html.escape(str(r.failure) if r.state == "fail" and r.failure == r.failure and r.failure is not None else
                      f"pruned at step {int(r.pruned_at)}" if r.pruned_at == r.pruned_at and r.pruned_at is not None
                      else "-")
        + f"</td><td>{score_then(r)}</td></tr>" for r in rows.itertuples())
    return (f"<p>{counts}.</p><table><tr><th>trial</th><th>state</th><th>why</th><th>score when pruned (partly "
            f"trained)</th></tr>{body}</table>")


def layer_table(rows: list[dict]) -> str:
    """A trial's layers (``layer_rows``), a U-Net skip column when the trial has skips."""
    skips = any(r["skip"] for r in rows)
    head = "".join(f"<th>{h}</th>" for h in ("", "block", "kernel", "stride", "out", "norm", "act",
                                                *(["U-Net skip"] if skips else [])))
    body = "".join(f"<tr><td>{r['layer']}</td><td>{html.escape(r['block'])}</td><td>k{r['kernel']}</td>"
                   f"<td>s{r['stride']}</td><td>{r['out']}</td><td>{r['norm']}</td><td>{r['activation']}</td>"
                   + (f"<td>{html.escape(r['skip'])}</td>" if skips else "") + "</tr>" for r in rows)
    return f"<table class='layers'><tr>{head}</tr>{body}</table>"


def gallery(study, df, output_dir: Path, registry=None) -> str:
    done = df[df["state"] == "complete"].sort_values("score").head(GALLERY)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    cards = []
    for r in done.itertuples():
        t = trials[int(r.number)]
        png = Path(r.samples) if isinstance(r.samples, str) else None
        image = (_img("data:image/png;base64," + base64.b64encode(png.read_bytes()).decode(),
                      f"samples of trial {r.number}", "samples") if png and png.exists() else "<p>(no samples)</p>")
        caption = ("<p class='meta'>rows: condition, output, target (held-out pairs drawn across the held-out "
                   "set)</p>" if t.user_attrs["arch"].get("task") == "translate" else "")
        label = f"trial {int(r.number)}" + (f" ({r.baseline} baseline)" if r.baseline == r.baseline and r.baseline
                                            else "")
        if getattr(r, "beats_identity", None) in (False,):  # (a numpy bool too)
            label += " (no better than doing nothing)"
        costs = f"{int(r.g_params):,} params" + (f", {int(r.g_macs):,} MACs" if r.g_macs == r.g_macs else "")
        cards.append(f"<div class='card'><h3>{html.escape(label)}: score {r.score:.4g}</h3><p>{costs}</p>"
                     f"<div class='pair'>{image}{layer_table(layer_rows(t.user_attrs['arch'], registry))}</div>"
                     f"{caption}</div>")
    return "".join(cards) or "<p>No complete trial yet.</p>"


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{margin-bottom:0}table{border-collapse:collapse;font-size:13px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px}img.plot{max-width:100%}img.samples{image-rendering:pixelated;
max-width:100%}.pair{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.pair figure{margin:0}.card{margin:1em 0;padding-top:.5em;
border-top:1px solid #ddd}.meta{color:#666}.caveat{color:#8a5a00}"""

SCRIPT = """window.addEventListener('error',function(e){document.body.dataset.errors=
(+(document.body.dataset.errors||0))+1;});window.addEventListener('load',function(){var imgs=
document.images,ok=0;for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}}
document.body.dataset.rendered=ok+'/'+imgs.length;console.log('gansearch-report rendered '+ok+' of '+
imgs.length+' images');});"""


def generator_sections(study_file, config, study, df) -> list[tuple[str, str]]:
    """A noise-to-image study's best generators, looked into: the latent space, and the power spectra of
    the best trials against the real data's."""
    done = df[df["state"] == "complete"].sort_values("score")
    if config.task != "generate" or done.empty:
        return []
    best = [int(n) for n in done["number"].head(SPECTRUM_TRIALS)]
    summary = df.attrs.get("confirmed")
    which = "the best"
    if summary is not None and summary.confirmed_best is not None:  # what longer training said comes first
        best = [summary.confirmed_best] + [n for n in best if n != summary.confirmed_best][:SPECTRUM_TRIALS - 1]
        which = "the best confirmed"
    try:
        generators = [(n, load_generator(study_file, n)) for n in best]
        real = prepare(study_file).data
    except GansearchError as exc:  # the data or a plugin moved since the run: say so, draw the rest
        note = f"<p>Could not load the generators or the data: {html.escape(str(exc))}</p>"
        return [("Latent space", note), ("Power spectra", note)]
    return [("Latent space", latent_section(generators[0][1], best[0], which)),
            ("Power spectra", spectra_plot(real, generators)
             + "<p class='meta'>Transposed convolutions leave peaks at the frequencies their strides produce "
             "(checkerboard artifacts); a curve above the real one at high frequencies is noise or such "
             "artifacts, below it blur.</p>")]


def build_report(study_file) -> str:
    """The HTML of a study's report (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    config = load_config(study_file)
    study = open_study(config, create=False)
    df = frame(study, config.output_dir, load_confirmation(config, study))
    registry = load_registry(config.plugins, base_dir=config.base_dir)
    states = ", ".join(f"{n} {s}" for s, n in df["state"].value_counts().items())
    identity = identity_summary(df)
    reference = "" if identity is None else (
        f"; doing nothing (the held-out conditions as outputs) scores {identity['score']:.4g} ± "
        f"{identity['score_se']:.2g}, best/identity {identity['best_over_identity']:.3g}")
    objective = ", ".join(config.objectives) if config.objectives else config.score.objective
    sections = [
        ("Optimisation history", history_plot(df)),
        ("Parameter importances", importance_plot(study, df)),
        ("Architectural choices", choices_plot(df)),
        ("Quality against cost", front_plot(df, config.objectives)),
        ("Pruned and failed trials", failures_table(df)),
        ("Best trials", gallery(study, df, config.output_dir, registry)),
        ("Does the short training predict the long one?",
         confirmation_section(df.attrs.get("confirmed"), config.output_dir)),
        *generator_sections(study_file, config, study, df),
        ("Checkerboard artifacts per upsampling block", checkerboard_section(study.get_trials(deepcopy=False),
                                                                             registry)),
    ]
    body = "".join(f"<section><h2>{title}</h2>{content}</section>" for title, content in sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>gansearch report: "
            f"{html.escape(config.name)}</title><style>{CSS}</style><script>{SCRIPT}</script></head><body>"
            f"<h1>gansearch report: {html.escape(config.name)}</h1><p class='meta'>{len(df)} trials ({states}); "
            f"task {config.task}; objective {html.escape(objective)}; data {config.data.name} "
            f"{config.data.resolution}×{config.data.resolution}{html.escape(reference)}; "
            f"{html.escape(str(config.output_dir))}</p>"
            f"{body}</body></html>")


def write_report(study_file, output: Path) -> Path:
    text = build_report(study_file)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(output.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    return output
