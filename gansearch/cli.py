"""The command line: a thin edge that turns domain errors into one-line messages and exit codes."""

import functools
import json
import sys
import traceback
import warnings
from pathlib import Path

import click

from gansearch.config._load import PRECISIONS
from gansearch.errors import (
    DatasetError, GansearchError, GansearchWarning, PluginError, StudyConfigError, StudyNotFound,
)

BAD_INPUT = (StudyConfigError, PluginError, DatasetError, StudyNotFound)
FORMATS = ("table", "csv", "json", "parquet")
STATES = ("complete", "pruned", "fail", "running", "waiting")


def edge(fn):
    """Run a command; a domain error becomes ``Error: <one line>`` and exit 2 (bad input) or 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = click.get_current_context().find_root().params.get("debug")
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            click.echo("Interrupted: finished trials are kept; run the same command again to resume.", err=True)
            sys.exit(143 if exc.args and exc.args[0] == "SIGTERM" else 130)  # 128 + the signal's number
        except GansearchError as exc:
            if debug:
                traceback.print_exc()
            for problem in getattr(exc, "problems", [exc]):  # a study file's problems: one line each
                click.echo(f"Error: {problem}", err=True)
            sys.exit(2 if isinstance(exc, BAD_INPUT) else 1)

    return wrapper


@click.group()
@click.version_option(package_name="gansearch")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
def cli(debug):
    """Search generator/discriminator architectures for your images with Optuna."""


study_file = click.argument("study", type=click.Path(path_type=Path))  # load_config says what is wrong with a path


@cli.command()
@study_file
@click.option("--n-trials", type=click.IntRange(min=1), help="Override n_trials from the study file.")
@click.option("--workers", callback=lambda ctx, p, v: v and _workers(v),
              help="Override workers (auto or N per device) from the study file.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--timings", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write where the run's wall time went, phase by phase, to this JSON file.")
@edge
def run(study, n_trials, workers, no_progress, timings):
    """Run (or resume) the study described by STUDY (a study.yaml)."""
    from gansearch.run._timeline import Timeline

    timeline = Timeline() if timings else None
    from gansearch.results._dataframe import frame
    from gansearch.run._runner import run_study

    debug = click.get_current_context().find_root().params.get("debug")
    result = run_study(study, n_trials=n_trials, workers=workers, progress=not no_progress, verbose=debug,
                       timeline=timeline)
    from gansearch.config._load import load_config

    config = load_config(study)
    df = frame(result, config.output_dir)
    click.echo(f"study {config.name!r}: {len(df)} trials "
               f"({', '.join(f'{n} {s}' for s, n in df['state'].value_counts().reindex(STATES).dropna().astype(int).items())}); "
               f"results in {config.output_dir}")
    click.echo(summary_table(df))
    if timeline is not None:
        timeline.mark("summary: the trial table")
        timeline.write(timings)
        click.echo(f"wrote {timings}", err=True)


@cli.command()
@study_file
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many of the best distinct architectures (a multi-objective study: of its Pareto set).")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True, help="Seeds per architecture.")
@click.option("--steps", type=click.IntRange(min=1), help="Training steps of each (default: --steps-factor x the "
              "study's).")
@click.option("--steps-factor", type=click.FloatRange(min=0, min_open=True), default=4.0, show_default=True,
              help="The study's steps times this, unless --steps is given.")
@click.option("--workers", callback=lambda ctx, p, v: v and _workers(v),
              help="Override workers (auto or N per device) from the study file.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@edge
def confirm(study, top, seeds, steps, steps_factor, workers, no_progress):
    """Retrain the best architectures of STUDY and its baseline from scratch, longer and with several seeds,
    and show whether the short search's ranking holds. Resumes like run; the results go beside the study's."""
    from gansearch.config._load import load_config
    from gansearch.confirm._runner import confirm_study
    from gansearch.confirm._show import confirmation_text

    debug = click.get_current_context().find_root().params.get("debug")
    summary = confirm_study(study, top=top, seeds=seeds, steps=steps, factor=steps_factor, workers=workers,
                            progress=not no_progress, verbose=debug)
    click.echo(confirmation_text(summary, load_config(study).train.steps))


def with_se(value, se) -> str:
    return f"{value:.4g}" if se is None or se != se else f"{value:.4g} ± {se:.2g}"


def summary_table(df, top: int = 5) -> str:
    """The best trials, ties with the best marked, the best against the baseline, and the Pareto set."""
    from gansearch.results._summaries import baseline_summary, identity_summary, pareto_set, top_trials

    done = df[df["state"] == "complete"]
    if done.empty:
        return "no complete trial yet"
    shown = top_trials(df, top)
    cols = ["number", "score", "tie", "g_params", "d_params", "g.strides", "d.strides", "duration_s", "samples"]
    view = shown[[c for c in cols if c in shown.columns]].copy()
    view["score"] = [with_se(v, se) for v, se in zip(shown["score"], shown["score_se"])]
    view["tie"] = ["tie" if t else "" for t in shown["tie"]]
    view["samples"] = [in_results(s) for s in shown["samples"]]  # the line above names the results folder
    view["duration_s"] = view["duration_s"].map(lambda v: f"{v:.1f}")
    for col in ("g.strides", "d.strides"):  # a translator's fixed design has no plan name
        if col in view:
            view[col] = view[col].fillna("")
    view.insert(1, "", [baseline_mark(b) for b in shown["baseline"]])
    if "beats_identity" in shown:  # a translate study: is each better than doing nothing?
        view.insert(3, "vs identity", ["better" if b else "no better" for b in shown["beats_identity"]])
    title = "best trial" if len(done) == 1 else f"best {min(top, len(done))} trials"
    lines = [f"{title} (lower score is better; 'tie': within two standard errors of the best):",
             view.to_string(index=False)]
    lines += baseline_lines(baseline_summary(done))
    lines += identity_lines(identity_summary(df))
    lines += pareto_lines(pareto_set(df))
    return "\n".join(lines)


def confirmed_lines(confirmed: dict | None) -> list[str]:
    """A trial's confirmation: its mean ± sd over seeds at the longer budget, and its confirmed rank."""
    if not confirmed or confirmed["score"] is None:
        return []
    ties = confirmed["ties"]
    return [f"confirmed: {with_se(confirmed['score'], confirmed['sd'])} (mean ± sd over {confirmed['seeds']} seeds "
            f"at {confirmed['steps']} steps; rank {confirmed['rank']} of {confirmed['of']})"
            + (f"; within noise of it, with more MACs: {', '.join(f'#{n}' for n in ties)}" if ties else "")]


def in_results(path) -> str:
    """A trial file's path within its study's results folder (trials/00011/samples.png)."""
    return Path(path).relative_to(Path(path).parents[2]).as_posix() if isinstance(path, str) else ""


def baseline_mark(value) -> str:
    return "baseline" if value == value and value is not None else ""


def pareto_lines(front: list[dict] | None) -> list[str]:
    """A multi-objective study's Pareto set: no trial in it is beaten on every objective by another."""
    import pandas as pd

    if not front:
        return []
    view = pd.DataFrame(front)
    view["score"] = [with_se(v, se) for v, se in zip(view["score"], view["score_se"])]
    view.insert(1, "", [baseline_mark(b) for b in view.pop("baseline")])
    view = view.drop(columns=["score_se"]).dropna(axis=1, how="all")
    view = view[[c for c in view.columns if c != "samples"] + ["samples"]]
    return [f"Pareto set ({len(front)} trials: none is beaten on every objective by another):",
            view.to_string(index=False)]


def identity_lines(identity: dict | None) -> list[str]:
    """A translate study's best against doing nothing (the held-out conditions as outputs)."""
    if identity is None:
        return []
    lines = [f"best/identity: {identity['best_over_identity']:.3g} (trial {identity['best_number']} against doing "
             f"nothing, the conditions as outputs: {with_se(identity['score'], identity['score_se'])})"]
    if identity["trials_not_beating"]:
        numbers = ", ".join(f"#{n}" for n in identity["trials_not_beating"])
        lines.append(f"no better than doing nothing: {numbers}")
    return lines


def confirmed_baseline_lines(number: int, confirmed: dict | None) -> list[str]:
    """The best confirmed mean against the baseline's, both at the longer budget."""
    base = (confirmed or {}).get("baseline")
    if base is None or number == base["number"]:
        return []
    return [f"confirmed best/baseline: {confirmed['score'] / base['score']:.3g} (trial {number}: "
            f"{confirmed['score']:.4g} vs the {base['name']} baseline, trial {base['number']}: {base['score']:.4g}; "
            "means over seeds)"]


def baseline_lines(baseline: dict | None) -> list[str]:
    if baseline is None:
        return []
    if baseline["best_number"] == baseline["number"]:
        return [f"the {baseline['name']} baseline (trial {baseline['number']}) is the best trial so far"]
    return [f"best/baseline: {baseline['best_over_baseline']:.3g} (trial {baseline['best_number']}: "
            f"{baseline['best_over_baseline'] * baseline['score']:.4g} vs the {baseline['name']} baseline, trial "
            f"{baseline['number']}: {baseline['score']:.4g})"]


@cli.command()
@study_file
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="table, csv, json or parquet [default: from -o's extension, else table].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.option("--columns", help="Comma-separated columns to show, e.g. number,score,g.0.block,lr_g "
              "(--all lists every one).")
@click.option("--all", "show_all", is_flag=True, help="Every column (a table about a hundred columns wide).")
@edge
def trials(study, fmt, output, columns, show_all):
    """Every trial of STUDY: a compact table (number, state, score ± se, the architecture in short, costs,
    duration), or CSV, JSON or Parquet with every column."""
    from gansearch.results._dataframe import trials_dataframe

    fmt = fmt or (FORMAT_OF.get(output.suffix.lower(), "table") if output is not None else "table")
    df = trials_dataframe(study)
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in df.columns]
        if unknown:
            raise StudyConfigError(f"no column {unknown[0]!r}; the columns are: {', '.join(df.columns)}",
                                   key="--columns")
        df = df[wanted]
    elif fmt == "table" and not show_all:
        df = compact(df)
    if fmt == "parquet":
        if output is None:
            raise click.UsageError("--format parquet needs -o FILE")
        try:
            df.to_parquet(output, index=False)
        except ImportError:
            raise GansearchError("parquet needs pyarrow: pip install 'gansearch[parquet]'") from None
        click.echo(f"wrote {output}", err=True)
        return
    if fmt == "csv":
        text = df.to_csv(index=False)
    elif fmt == "json":
        text = df.to_json(orient="records", date_format="iso", indent=2) + "\n"
    else:
        text = df.to_string(index=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


FORMAT_OF = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet"}


def compact(df):
    """The trial table in short: number, state, score ± se, the stride plans and generator blocks, costs,
    duration, and why a trial stopped early."""
    import pandas as pd

    view = pd.DataFrame({"number": df["number"], "state": df["state"],
                         "score": [with_se(v, se) if v == v and v is not None else "" for v, se
                                   in zip(df["score"], df["score_se"])]})
    if df["tie"].any():
        view["tie"] = ["tie" if t else "" for t in df["tie"]]
    if "confirmed_score" in df:  # gansearch confirm: mean ± sd over seeds at the longer budget
        view["confirmed"] = [with_se(v, sd) if v == v and v is not None else "" for v, sd
                             in zip(df["confirmed_score"], df["confirmed_sd"])]
    if "baseline" in df and df["baseline"].notna().any():
        view["baseline"] = [b if isinstance(b, str) else "" for b in df["baseline"]]
    if "beats_identity" in df:
        view["vs identity"] = ["better" if b is True else "no better" if b is False else "" for b in df["beats_identity"]]
    for col in ("g.strides", "d.strides"):
        if col in df:
            view[col] = df[col].fillna("")
    layers = sorted((c for c in df.columns if c.startswith("g.") and c.endswith(".block") and c[2:-6].isdigit()),
                    key=lambda c: int(c[2:-6]))
    view["g blocks"] = ["-".join(str(b) for b in row if isinstance(b, str)) for row in df[layers].itertuples(index=False)]
    for col in ("g_params", "g_macs"):
        view[col] = df[col]
    view["duration_s"] = df["duration_s"].map(lambda v: "" if v != v or v is None else f"{v:.1f}")
    view["note"] = [f"pruned at {int(p)}" if s == "pruned" and p == p and p is not None else
                    (f[:40] + ("..." if len(f) > 40 else "") if isinstance(f, str) else "")
                    for s, p, f in zip(df["state"], df["pruned_at"], df["failure"])]
    return view


@cli.command()
@study_file
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the HTML [default: report.html in the study's output folder].")
@edge
def report(study, output):
    """One self-contained HTML report of STUDY (opens offline): history, importances, choices, the
    quality-cost front, pruned and failed trials, and the best trials' samples beside their layers."""
    from gansearch.config._load import load_config
    from gansearch.results._report import write_report

    output = output or load_config(study).output_dir / "report.html"
    click.echo(f"wrote {write_report(study, output)}")


@cli.command()
@study_file
@click.option("--trial", "number", type=click.IntRange(min=0), default=None, help="Trial number [default: the best].")
@click.option("--format", "fmt", type=click.Choice(["pytorch", "torchscript", "onnx"]), default="pytorch",
              show_default=True)
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the exported files.")
@edge
def export(study, number, fmt, output):
    """Write a trial's generator for use without gansearch: plain PyTorch code and safetensors weights,
    TorchScript, or ONNX. Each export is loaded back and checked against the trial's own images."""
    from gansearch.config._load import load_config
    from gansearch.data._pairs import condition_settings, condition_source
    from gansearch.nets._export import export_generator
    from gansearch.nets._spec import ArchSpec
    from gansearch.results._dataframe import best_trial, load_generator

    config = load_config(study)
    g = load_generator(study, number)
    if number is None:
        number = best_trial(study).number
    from gansearch.store._open import open_study

    trial = next(t for t in open_study(config, create=False).get_trials(deepcopy=False) if t.number == number)
    arch = ArchSpec.from_dict(trial.user_attrs["arch"])
    about = {"study": config.name, "trial": number, "score": trial.user_attrs.get("score"),
             "score_se": trial.user_attrs.get("score_se"), "objective": config.score.objective}
    translator = arch.task == "translate"
    files = export_generator(g, arch, fmt, output, f"{config.name}, trial {number} (gansearch export)",
                             condition=condition_settings(config.translate) if translator else None,
                             recipe=condition_source(config.translate, config.seed) if translator else None,
                             about=about)
    for f in files:
        click.echo(f"wrote {f}")


@cli.command()
@study_file
@click.option("--json", "as_json", is_flag=True, help="Print the trial as JSON.")
@click.option("--trial", "number", type=click.IntRange(min=0), default=None, help="Show this trial instead.")
@click.option("--confirmed", is_flag=True, help="The best confirmed mean (gansearch confirm); ties within noise go "
              "to the fewest generator MACs.")
@edge
def best(study, as_json, number, confirmed):
    """The best trial of STUDY (or --trial N): its score, architecture and training settings."""
    from gansearch.results._summaries import best as best_of

    info = best_of(study, number=number, confirmed=confirmed)
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2, default=str))
        return
    for line in pareto_lines(info.pareto):
        click.echo(line)
    what = "trial" if number is not None else "best confirmed trial" if confirmed else "best trial"
    search = "search score " if confirmed and number is None else "score "  # its confirmation follows
    score = search + with_se(info.score, info.score_se) if info.score is not None else "(did not complete)"
    click.echo(f"{what}: #{info.number}  {score}"
               + (f"  (ties within two standard errors: {', '.join(f'#{n}' for n in info.ties)})" if info.ties else ""))
    compared = (confirmed_baseline_lines(info.number, info.confirmed) if confirmed and number is None
                else baseline_lines(info.baseline))
    for line in compared + identity_lines(info.identity) + confirmed_lines(info.confirmed):
        click.echo(line)
    metrics = info.metrics
    if metrics:
        click.echo(("search metrics: " if confirmed and number is None else "metrics: ") + ", ".join(f"{k} {with_se(v, metrics.get(f'{k}_se'))}"
                                           for k, v in metrics.items() if not k.endswith("_se")))
    arch = info.arch
    for name in ("generator", "discriminator"):
        net = arch[name]
        click.echo(f"{name}:")
        if name == "generator" and arch.get("task") == "translate":
            click.echo(f"  input: condition {arch['cond_channels']}x{arch['resolution']}x{arch['resolution']}"
                       + ("; U-Net skips" if any(r["skip"] for r in info.layers) else
                          "; U-Net skips on, none used (no layer returns to a kept size)" if net.get("skips") else ""))
        elif name == "generator":
            click.echo(f"  stem: z({arch['latent_dim']}) -> {net['width']}x{net['base_resolution']}x"
                       f"{net['base_resolution']}")
        for row in (r for r in info.layers if r["layer"][0] == name[0].upper()):
            opts = "".join(f" {k}={v}" for k, v in row["options"].items())
            skip = f"  (U-Net skip: {row['skip']})" if row["skip"] else ""
            click.echo(f"  {row['layer'][1:]}: {row['block']:<14} k{row['kernel']} s{row['stride']} -> "
                       f"{row['out']:<4} {row['norm']:<8} {row['activation']}{opts}{skip}")
        if name == "discriminator":
            click.echo("  head: " + ("1x1 conv -> a map of logits (patch)" if net.get("head") == "patch"
                                     else "linear -> 1 logit") + ("; sees the condition" if net.get("conditional") else ""))
    click.echo("train: " + ", ".join(f"{k}={v}" for k, v in info.train.items()))
    costs = info.costs
    if costs.get("g_macs") is not None:
        click.echo(f"cost: {costs['g_params']:,} parameters, {costs['g_macs']:,} MACs per image, "
                   f"{costs['g_latency_ms']:.3g} ms per batch of {costs['latency_batch']}")
    for label, file in (("samples", info.samples), ("generator weights", info.generator)):
        gone = file is not None and not Path(file).exists()
        click.echo(f"{label}: {file}" + ("  (missing: was the trial's folder deleted or moved?)" if gone else ""))


@cli.command()
@study_file
@click.option("--images", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A folder of PNG/JPEG images (read like the folder dataset: resized, centre-cropped).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@edge
def evaluate(study, folder, device, as_json):
    """Score the images in a folder against STUDY's real data: every metric, with standard errors."""
    from gansearch.results._evaluation import evaluate_folder

    check_device_option(device)
    prepared, n, result = evaluate_folder(study, folder, device)
    if as_json:
        click.echo(json.dumps({"images": n, **result}, indent=2))
        return
    samples = prepared.config.score.samples
    if prepared.pairs is not None:
        click.echo(f"{n} outputs from {folder} (in file-name order) for study {prepared.config.name!r}'s held-out "
                   "conditions, against their targets:")
    else:
        click.echo(f"{n} images from {folder} against study {prepared.config.name!r}:")
    if prepared.pairs is None and n != samples:
        click.echo(f"note: the study's trials are scored on {samples} images; fd, precision and recall depend on "
                   "the count (kid does not), so compare with them at the same count")
    for name, value in result.items():
        if not name.endswith("_se"):
            click.echo(f"  {name:<16} {with_se(value, result.get(f'{name}_se'))}")


@cli.command()
@click.argument("study", required=False, type=click.Path(path_type=Path))
@edge
def plugins(study):
    """Every block, dataset, extractor, metric and augmentation, with the plugin (and version) providing it.

    With STUDY, the plugins listed in that study file are included.
    """
    from gansearch.config._load import load_config
    from gansearch.plugins._registry import load_registry

    if study is not None:
        config = load_config(study)
        registry = load_registry(config.plugins, base_dir=config.base_dir)
    else:
        registry = load_registry()
    for title, table in (("blocks", registry.blocks), ("datasets", registry.datasets),
                         ("extractors", registry.extractors), ("metrics", registry.metrics),
                         ("augmentations", registry.augmentations)):
        click.echo(f"{title}:")
        for name, provided in sorted(table.items()):
            obj = provided.obj
            extra = (f" scale={obj.scale}" + (f" strides={list(obj.strides)}" if obj.strides else "")
                     + (f" kernels={list(obj.kernels)}" if obj.kernels else "") if title == "blocks" else
                     f" classes={len(obj.classes)}" if title == "datasets" and obj.classes else
                     f" {'lower' if obj.lower_is_better else 'higher'} is better" if title == "metrics" else "")
            version = f" ({provided.version})" if provided.version else ""
            click.echo(f"  {name:<16} {provided.plugin}{version}{extra}  {provided.obj.description}")
    if registry.broken:
        click.echo("installed plugins that failed to import:")
        for name, why in sorted(registry.broken.items()):
            click.echo(f"  {name:<16} {why}")


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@edge
def schema(output):
    """The study file's JSON Schema, so editors check and complete study.yaml.

    \b
    gansearch schema -o study.schema.json
    then make this the first line of study.yaml (VS Code's YAML extension, yaml-language-server):
    # yaml-language-server: $schema=study.schema.json
    """
    from gansearch.config._schema import study_schema

    text = json.dumps(study_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


def check_device_option(device: str, allow_auto: bool = False) -> None:
    """``--device``: cpu, cuda or cuda:N (or auto) that exists on this machine; else one line, exit 2."""
    from gansearch.config._load import DEVICES_HELP
    from gansearch.train._devices import cuda_count

    index = device.partition(":")[2]
    if not ((allow_auto and device == "auto") or device in ("cpu", "cuda")
            or (device.startswith("cuda:") and index.isdigit())):
        raise StudyConfigError(f"{device!r} is not a device; expected {DEVICES_HELP}", key="--device")
    if device.startswith("cuda") and (int(index or 0) >= cuda_count()):
        raise StudyConfigError(f"{device!r}: this machine has {cuda_count()} CUDA device(s)", key="--device")


def _workers(value):
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise click.BadParameter(f"{value!r}: expected auto or an integer >= 1")
    return n


@cli.command()
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option("--resolution", type=click.Choice(["16", "32", "64"]), default="32", show_default=True)
@click.option("--width", type=click.IntRange(min=0), default=0, help="Base channels [default: 32 on CUDA, 16 on CPU]")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--steps", type=click.IntRange(min=10), default=200, show_default=True)
@click.option("--trials", type=click.IntRange(min=0), default=0, help="Trials per side [default: 2 per worker]")
@click.option("--workers", callback=lambda ctx, p, v: _workers(v), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="gansearch's arithmetic (train.precision); the classic loop stays as it is.")
@click.option("--layouts", is_flag=True, help="Instead: time gansearch's side with several layouts (worker "
              "processes x trials per worker) and keep the fastest for `workers: auto` on this kind of device.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default="bench.json",
              show_default=True, help="Where to write the results as JSON.")
@edge
def bench(device, resolution, width, batch_size, steps, trials, workers, precision, layouts, output):
    """Benchmark gansearch's trainer against the classic DCGAN loop, in one run.

    Trains the same fixed DCGAN pair for the same step budget with (a) the naive reference loop
    (eager, one trial at a time, each batch copied host->device) and (b) gansearch's trainer with its
    default parallelism; prints images/s, trials/hour, the ratio b/a and TFLOP/s against a peak measured
    in the same run.
    """
    from gansearch.bench._trainer_bench import BenchConfig, format_report, measure_layouts, run_bench

    check_device_option(device, allow_auto=True)
    config = BenchConfig(device=device, resolution=int(resolution), width=width, batch_size=batch_size,
                         steps=steps, trials=trials, workers=workers, precision=precision)
    if layouts:
        result = measure_layouts(config, progress=lambda line: click.echo(line, err=True),
                                 partial=lambda so_far: output.write_text(json.dumps(so_far, indent=2) + "\n"))
        output.write_text(json.dumps(result, indent=2) + "\n")
        click.echo(f"wrote {output}")
        return
    result = run_bench(config, progress=lambda line: click.echo(line, err=True))
    click.echo(format_report(result))
    output.write_text(json.dumps(result, indent=2) + "\n")
    click.echo(f"wrote {output}")


@cli.command()
@study_file
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@edge
def calibrate(study, device):
    """Check STUDY's objective on its own data: held-out real images against noise, blur, mode dropping,
    flips and collapse, each with its standard error, and Kendall's tau against the intended order."""
    from gansearch.score._calibration import calibrate as run_calibration
    from gansearch.study._prepare import prepare

    check_device_option(device)
    prepared = prepare(study)
    result = run_calibration(prepared, device=device)
    click.echo(f"objective {prepared.plan.objective.name} ({prepared.config.score.samples} samples), "
               f"best to worst as intended:")
    click.echo(result.table())
    if result.unclear:
        click.echo(f"not clearly worse than held-out real data: {', '.join(result.unclear)}")
    if result.not_monotone:
        click.echo(f"not monotone in the degradation's strength: {', '.join(result.not_monotone)}")


@cli.command("bench-search")
@click.option("--suites", default="digits16,shapes32", show_default=True, help="Comma-separated suites.")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--trials", type=click.IntRange(min=2), default=30, show_default=True, help="Trials per study.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="Studies at a time [default: GPU: one per "
              "core, each one worker; CPU: 1, with a worker per core]")
@click.option("--variants", default="tpe,random,tpe+median,tpe+sha", show_default=True,
              help="Comma-separated: tpe, random, tpe+median, tpe+sha (tpe is every comparison's reference).")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600, show_default=True,
              help="Seconds per study; a study out of time keeps the trials it finished.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default="bench-search",
              show_default=True, help="Folder for the studies and bench-search.json.")
@edge
def bench_search(suites, seeds, trials, device, jobs, variants, timeout, output):
    """Search quality in one run: the best of TRIALS trials against the DCGAN baseline, TPE against random
    search, and median pruning against none, on digits 16x16 and shapes 32x32 over SEEDS seeds."""
    from gansearch.bench._search_bench import SUITES, VARIANTS, format_report, run_search_bench

    check_device_option(device, allow_auto=True)
    chosen = [v.strip() for v in variants.split(",") if v.strip()]
    if "tpe" not in chosen or any(v not in VARIANTS for v in chosen):
        raise click.BadParameter(f"{variants!r}: a comma-separated list of {', '.join(VARIANTS)} including tpe",
                                 param_hint="--variants")
    names = [s.strip() for s in suites.split(",") if s.strip()]
    unknown = [s for s in names if s not in SUITES]
    if unknown:
        raise click.BadParameter(f"unknown suite {unknown[0]!r}; available: {', '.join(SUITES)}",
                                 param_hint="--suites")
    result = run_search_bench(output, names, range(seeds), trials, device, jobs, timeout,
                              progress=lambda line: click.echo(line, err=True), variants=tuple(chosen))
    click.echo(format_report(result))
    if result["failed"]:
        click.echo("failed studies: " + "; ".join(result["failed"]), err=True)
    click.echo(f"wrote {output / 'bench-search.json'} (the studies beside it)")


@cli.command("bench-confirm")
@click.option("--suites", default=None, help="Comma-separated suites [default: digits16 on the CPU, shapes32 on "
              "CUDA].")
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True, help="Study seeds.")
@click.option("--trials", type=click.IntRange(min=2), default=30, show_default=True, help="Trials per study.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option("--jobs", type=click.IntRange(min=0), default=0, help="Studies at a time [default: GPU: one per "
              "core; CPU: 1, with a worker per core]")
@click.option("--timeout", type=click.FloatRange(min=1), default=7200, show_default=True,
              help="Seconds for each search and each confirmation.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default="bench-confirm",
              show_default=True, help="Folder for the studies and bench-confirm.json.")
@edge
def bench_confirm(suites, seeds, trials, device, jobs, timeout, output):
    """Does the short search predict longer training? TRIALS-trial studies with the default search settings,
    each confirmed (the 5 best and the baseline, 3 seeds, 4x the steps): Spearman and Kendall between search
    and confirmed scores, and how often the search's best stays the best, over SEEDS study seeds."""
    from gansearch.bench._confirm_bench import format_report as confirm_report
    from gansearch.bench._confirm_bench import run_confirm_bench
    from gansearch.bench._search_bench import SUITES

    check_device_option(device, allow_auto=True)
    names = [s.strip() for s in suites.split(",") if s.strip()] if suites else None
    unknown = [s for s in names or () if s not in SUITES or SUITES[s].get("task") == "translate"]
    if unknown:
        raise click.BadParameter(f"unknown suite {unknown[0]!r}; available: digits16, shapes32", param_hint="--suites")
    result = run_confirm_bench(output, names, range(seeds), trials, device, jobs=jobs, timeout=timeout,
                               progress=lambda line: click.echo(line, err=True))
    click.echo(confirm_report(result))
    click.echo(f"measured on {result['device']}, {result['date']}, torch {result['torch']}, "
               f"{result['seconds'] / 60:.0f} min")
    click.echo(f"wrote {output / 'bench-confirm.json'} (the studies beside it)")


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """gansearch's own warnings as ``Warning: ...`` lines; any other warning as Python prints it."""
    if issubclass(category, GansearchWarning):
        print(f"Warning: {message}", file=file or sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main():
    warnings.showwarning = _one_line_warning
    cli(prog_name="gansearch")
