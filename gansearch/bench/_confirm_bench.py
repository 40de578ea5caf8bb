"""``gansearch bench-confirm``: does the short search predict longer training? For each suite and study seed,
a 30-trial study with gansearch's default search settings (TPE, the median pruner, the default training
steps and evaluations) on the suite's space, then ``gansearch confirm`` (the 5 best and the baseline, 3 seeds
each, 4x the steps). Reported: Spearman and Kendall between search score and confirmed mean, and how often
the search's best is, within noise, the confirmed best.
"""

import json
import math
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from gansearch.bench._search_bench import SUITES

DEFAULT_SUITES = {"cpu": ("digits16",), "cuda": ("shapes32",)}


def study_dict(suite: str, seed: int, n_trials: int, device: str, workers) -> dict:
    """The suite's data, space and score; gansearch's defaults for everything the search decides with."""
    space = SUITES[suite]
    train = {k: v for k, v in space["train"].items() if k not in ("steps", "eval_every")}
    return {"name": f"{suite}-s{seed}", "seed": seed, "n_trials": n_trials, "workers": workers, "devices": device,
            **{k: v for k, v in space.items() if k != "train"}, "train": train}


def _gansearch(*args, timeout: float) -> tuple[int, float, str]:
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "gansearch", *args], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, time.perf_counter() - started, f"timed out after {timeout:.0f} s"
    return proc.returncode, time.perf_counter() - started, proc.stderr[-2000:]


def run_one(path: Path, top: int, seeds: int, factor: float, timeout: float) -> dict:
    """Search, then confirm, each in a process of its own; the confirmation's numbers."""
    from gansearch.confirm._runner import load_confirmation

    code, searched, err = _gansearch("run", str(path), "--no-progress", timeout=timeout)
    if code != 0:
        return {"study": path.parent.name, "error": f"run: {err.strip().splitlines()[-1] if err.strip() else code}"}
    code, confirmed, err = _gansearch("confirm", str(path), "--top", str(top), "--seeds", str(seeds),
                                      "--steps-factor", str(factor), "--no-progress", timeout=timeout)
    if code != 0:
        return {"study": path.parent.name, "error": f"confirm: {err.strip().splitlines()[-1] if err.strip() else code}"}
    s = load_confirmation(path)
    return {"study": path.parent.name, "search_s": round(searched, 1), "confirm_s": round(confirmed, 1),
            "architectures": sum(r.score is not None for r in s.rows), "steps": s.steps,
            "spearman": s.spearman, "spearman_ci": list(s.spearman_ci), "kendall": s.kendall,
            "kendall_ci": list(s.kendall_ci), "search_best": s.search_best, "confirmed_best": s.confirmed_best,
            "best_holds": s.best_holds, "seed_agreement": s.seed_agreement}


def run_confirm_bench(out: Path, suites=None, seeds=(0, 1, 2), n_trials: int = 30, device: str = "auto",
                      top: int = 5, confirm_seeds: int = 3, factor: float = 4.0, jobs: int = 0,
                      timeout: float = 7200, progress=print) -> dict:
    """Write and run one study per suite and seed under ``out``, confirm each, summarise."""
    import torch

    from gansearch.train._devices import host_cores, resolve_devices

    out = Path(out)
    gpu = resolve_devices(device)[0] != "cpu"
    suites = tuple(suites or DEFAULT_SUITES["cuda" if gpu else "cpu"])
    jobs = jobs or (min(host_cores(), len(suites) * len(seeds)) if gpu else 1)
    paths = []
    for suite in suites:
        for seed in seeds:
            config = study_dict(suite, seed, n_trials, device, 1 if gpu else "auto")
            path = out / config["name"] / "study.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            paths.append((suite, seed, path))
    started = time.perf_counter()
    rows = []
    with ThreadPoolExecutor(jobs) as pool:
        for (suite, seed, _), row in zip(paths, pool.map(lambda p: run_one(p[2], top, confirm_seeds, factor, timeout),
                                                         paths)):
            rows.append({"suite": suite, "seed": seed, **row})
            progress(f"{row['study']}: " + (row["error"] if "error" in row else
                                            f"Spearman {row['spearman']:.2f}, best holds: {row['best_holds']}"))
    result = {"rows": rows, "summary": summarise(rows), "seconds": time.perf_counter() - started,
              "n_trials": n_trials, "top": top, "confirm_seeds": confirm_seeds, "factor": factor,
              "device": torch.cuda.get_device_name(0) if gpu else platform.processor() or "cpu",
              "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(), "torch": torch.__version__}
    (out / "bench-confirm.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def summarise(rows) -> list[dict]:
    """Per suite: mean Spearman and Kendall over study seeds, and in how many the search's best held."""
    out = []
    for suite in dict.fromkeys(r["suite"] for r in rows):
        ok = [r for r in rows if r["suite"] == suite and "error" not in r]
        if not ok:
            continue
        def mean(key):
            found = [r.get(key, math.nan) for r in ok if not math.isnan(r.get(key, math.nan))]
            return sum(found) / len(found) if found else math.nan
        out.append({"suite": suite, "studies": len(ok), "spearman_mean": mean("spearman"),
                    "kendall_mean": mean("kendall"), "seed_agreement_mean": mean("seed_agreement"),
                    "best_holds": sum(r["best_holds"] in ("same", "within noise") for r in ok)})
    return out


def format_report(result: dict) -> str:
    """A Markdown table, as the README shows it."""
    lines = ["| suite | study seed | Spearman [95% CI] | Kendall [95% CI] | one seed vs the others | "
             "search's best = confirmed best? |", "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"| {r['suite']} | {r['seed']} | {r['error']} | | | |")
            continue
        ci = lambda c: "" if c[0] != c[0] else f" [{c[0]:.2f}, {c[1]:.2f}]"  # noqa: E731
        lines.append(f"| {r['suite']} | {r['seed']} | {r['spearman']:.2f}{ci(r['spearman_ci'])} | "
                     f"{r['kendall']:.2f}{ci(r['kendall_ci'])} | {r.get('seed_agreement', math.nan):.2f} | "
                     f"{r['best_holds']} (#{r['search_best']} vs "
                     f"#{r['confirmed_best']}) |")
    for s in result["summary"]:
        lines.append(f"| **{s['suite']}** | mean of {s['studies']} | **{s['spearman_mean']:.2f}** | "
                     f"{s['kendall_mean']:.2f} | {s['seed_agreement_mean']:.2f} | {s['best_holds']} of {s['studies']} |")
    return "\n".join(lines)
