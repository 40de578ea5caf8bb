"""``gansearch bench-search``: does the search beat the hand design, does TPE beat random search, and
does pruning save compute? Measured on digits 16x16 and shapes 32x32, several seeds, one run; the
translate suites (superres_digits16, colorize_shapes32) compare the best translator with the design
note's seed pair on held-out L1, and on the Fréchet distance as the second measure.

Every study gets the same per-trial budget (its ``train.steps``) and ``n_trials``. Four variants per
suite and seed: ``tpe`` and ``random`` without pruning, ``tpe+median`` (the default: TPE with the
median pruner) and ``tpe+sha`` (successive halving). Each study's trial 0 is the DCGAN baseline, trained like every other trial.
"""

import json
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

NET = {"kernels": [3, 4], "strides": [1, 2]}  # the quickstart's space, so a 2-core CPU can run a suite too
SUITES = {
    "digits16": {
        "data": {"name": "digits", "resolution": 16},
        "generator": {**NET, "blocks": ["deconv", "upsample_conv"], "depth": {"low": 2, "high": 3},
                      "widths": [32, 64], "norms": ["batch", "none"]},
        "discriminator": {**NET, "blocks": ["conv"], "depth": {"low": 2, "high": 3}, "widths": [32, 64],
                          "norms": ["none", "batch"]},
        "train": {"steps": 300, "eval_every": 50, "batch_size": 64, "lr_g": {"low": 1.0e-4, "high": 2.0e-3, "log": True},
                  "lr_d": {"low": 1.0e-4, "high": 2.0e-3, "log": True}, "beta1": [0.0, 0.5], "loss": ["ns", "hinge"]},
        "score": {"samples": 512, "metrics": ["fd", "fd@classifier"]},  # what the verdicts read
    },
    "shapes32": {
        "data": {"name": "shapes", "resolution": 32, "count": 4096},
        "generator": {**NET, "blocks": ["deconv", "upsample_conv"], "depth": {"low": 3, "high": 4},
                      "widths": [16, 32, 64], "norms": ["batch", "none"]},
        "discriminator": {**NET, "blocks": ["conv"], "depth": {"low": 3, "high": 4}, "widths": [16, 32, 64],
                          "norms": ["none", "batch"]},
        "train": {"steps": 400, "eval_every": 50, "batch_size": 64, "lr_g": {"low": 1.0e-4, "high": 2.0e-3, "log": True},
                  "lr_d": {"low": 1.0e-4, "high": 2.0e-3, "log": True}, "beta1": [0.0, 0.5], "loss": ["ns", "hinge"]},
        "score": {"samples": 512, "metrics": ["fd", "fd@classifier"]},
    },
}
TRANSLATE_NET = {"kernels": [3, 4], "strides": [1, 2], "depth": {"low": 3, "high": 5}, "widths": [16, 32],
                 "norms": ["none", "batch"], "activations": ["lrelu", "relu"]}
TRANSLATE_TRAIN = {"steps": 300, "eval_every": 100, "batch_size": 32, "lr_g": {"low": 1.0e-4, "high": 1.0e-3, "log": True},
                   "l1_weight": [10, 100], "augment": ["none", "translation,cutout"]}
SUITES.update({  # issue 9: the best translator against the design note's seed pair (trial 0), on held-out L1
    "superres_digits16": {  # as studies/superres_digits.yaml
        "task": "translate", "data": {"name": "digits", "resolution": 16},
        "translate": {"condition": "downsample", "factor": 4, "skips": [False, True]},
        "generator": {**TRANSLATE_NET, "blocks": ["conv", "deconv", "upsample_conv"]},
        "discriminator": {"blocks": ["conv"], "kernels": [4], "strides": [2], "depth": 2, "widths": [32, 64],
                          "norms": ["none"]},
        "train": TRANSLATE_TRAIN,
    },
    "colorize_shapes32": {  # as studies/colorize_shapes.yaml
        "task": "translate", "data": {"name": "shapes", "resolution": 32, "count": 2048},
        "translate": {"condition": "grayscale", "skips": [False, True], "conditional_d": [True, False],
                      "d_head": ["patch", "dense"]},
        "generator": {**TRANSLATE_NET, "blocks": ["conv", "deconv", "upsample_conv"]},
        "discriminator": {"blocks": ["conv"], "kernels": [4], "strides": [2], "depth": {"low": 2, "high": 3},
                          "widths": [32, 64], "norms": ["none"]},
        "train": TRANSLATE_TRAIN,
    },
})
SECOND = {"superres_digits16": "fd", "colorize_shapes32": "fd"}  # "also better on": default fd@classifier
VARIANTS = {"tpe": ("tpe", "none"), "random": ("random", "none"), "tpe+median": ("tpe", "median"),
            "tpe+sha": ("tpe", "successive_halving")}
PRUNED = ("tpe+median", "tpe+sha")


def study_dict(suite: str, seed: int, variant: str, n_trials: int, device: str, workers) -> dict:
    sampler, pruner = VARIANTS[variant]
    return {"name": f"{suite}-s{seed}-{variant.replace('+', '-')}", "seed": seed, "n_trials": n_trials,
            "sampler": sampler, "pruner": pruner, "workers": workers, "devices": device, **SUITES[suite]}


def write_studies(out: Path, suites, seeds, n_trials, device, workers, variants=tuple(VARIANTS)
                  ) -> list[tuple[str, int, str, Path]]:
    studies = []
    for suite in suites:
        for seed in seeds:
            for variant in variants:
                config = study_dict(suite, seed, variant, n_trials, device, workers)
                path = out / config["name"] / "study.yaml"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(yaml.safe_dump(config, sort_keys=False))
                studies.append((suite, seed, variant, path))
    return studies


def run_one(path: Path, timeout: float) -> tuple[Path, int, float, str]:
    """``gansearch run`` in its own process; one that runs out of time keeps the trials it finished."""
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "gansearch", "run", str(path), "--no-progress"],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return path, -1, time.perf_counter() - started, f"timed out after {timeout:.0f} s"
    return path, proc.returncode, time.perf_counter() - started, proc.stderr[-2000:]


def summarise(studies) -> dict:
    """Per suite and seed: baseline, best of each variant (with standard errors) and training steps."""
    from gansearch.errors import GansearchError
    from gansearch.results._dataframe import trials_dataframe

    rows = []
    for suite, seed, variant, path in studies:
        try:
            df = trials_dataframe(path)
        except GansearchError:  # a study that never started: an empty row, the others still count
            df = None
        if df is None or df.empty:
            rows.append({"suite": suite, "seed": seed, "variant": variant, "trials": 0, "best": None,
                         "best_se": None, "best_classifier_fd": None, "baseline": None, "baseline_se": None,
                         "baseline_classifier_fd": None, "steps": 0})
            continue
        done = df[df["state"] == "complete"]
        base = done[done["baseline"].notna()]
        best = done.loc[done["score"].idxmin()] if not done.empty else None
        rows.append({
            "suite": suite, "seed": seed, "variant": variant, "trials": int(len(df)),
            "best": None if best is None else float(best["score"]),
            "best_se": None if best is None else float(best["score_se"]),
            "best_classifier_fd": None if best is None else _get(best, SECOND.get(suite, "fd@classifier")),
            "baseline": None if base.empty else float(base.iloc[0]["score"]),
            "baseline_se": None if base.empty else float(base.iloc[0]["score_se"]),
            "baseline_classifier_fd": None if base.empty else _get(base.iloc[0], SECOND.get(suite, "fd@classifier")),
            "steps": int(df["steps"].fillna(0).sum()),
            # per trial in the order they ran: [training steps, score or None, its standard error or None]
            "trajectory": [[int(r.steps) if r.steps == r.steps and r.steps is not None else 0,
                            float(r.score) if r.state == "complete" else None,
                            float(r.score_se) if r.state == "complete" and r.score_se == r.score_se else None]
                           for r in df.sort_values("number").itertuples()],
        })
    return {"rows": rows, "checks": checks(rows)}


def _get(row, key):
    value = row.get(key)
    return None if value is None or value != value else float(value)


def checks(rows) -> list[dict]:
    """The issue's three claims, per suite: (a) search vs DCGAN, (b) TPE vs random, (c) pruning's saving."""
    out = []
    for suite in dict.fromkeys(r["suite"] for r in rows):
        by = {(r["seed"], r["variant"]): r for r in rows if r["suite"] == suite}
        variants = {v for _, v in by}
        seeds = sorted(s for s in {s for s, _ in by}  # seeds whose studies all finished a trial
                       if all((s, v) in by and by[s, v]["best"] is not None and by[s, v]["baseline"]
                              for v in variants))
        if not seeds:
            continue
        search = "tpe+median" if "tpe+median" in variants else "tpe"  # (a): the default search if it ran
        ratios = [by[s, search]["best"] / by[s, search]["baseline"] for s in seeds]
        clf = [by[s, search]["best_classifier_fd"] < by[s, search]["baseline_classifier_fd"]
               for s in seeds if by[s, search]["best_classifier_fd"] is not None]
        tpe = sum(by[s, "tpe"]["best"] for s in seeds) / len(seeds)
        rnd = sum(by[s, "random"]["best"] for s in seeds) / len(seeds) if "random" in variants else None
        pruning = {}
        for variant in (v for v in PRUNED if v in variants):
            reached = [steps_to_reach(by[s, variant].get("trajectory"), by[s, "tpe"]) for s in seeds]
            within = [r is not None for r in reached]
            unpruned = sum(by[s, "tpe"]["steps"] for s in seeds)
            ratio = sum(r for r in reached if r is not None) / unpruned if all(within) else None
            pruning[variant] = {"within_noise": within, "steps_to_reach": reached, "steps_ratio": ratio,
                                "total_steps_ratio": sum(by[s, variant]["steps"] for s in seeds) / unpruned,
                                "pass": all(within) and ratio <= 0.5}
        out.append({
            "suite": suite, "seeds": len(seeds),
            "a_best_over_baseline": ratios, "a_pass": all(r <= 0.8 for r in ratios) and all(clf) and bool(clf),
            "a_classifier_fd_better": clf,
            "b_tpe_mean_best": tpe, "b_random_mean_best": rnd, "b_pass": None if rnd is None else tpe <= rnd,
            "c_pruning": pruning,
        })
    return out


def steps_to_reach(trajectory, unpruned: dict) -> int | None:
    """Training steps a study spent until a trial first scored within noise (two standard errors of the
    difference) of the unpruned study's best; None if none did."""
    if not trajectory or unpruned["best"] is None:
        return None
    spent = 0
    for steps, score, se in trajectory:
        spent += steps
        if score is not None and score - unpruned["best"] <= 2 * ((se or 0) ** 2 + unpruned["best_se"] ** 2) ** 0.5:
            return spent
    return None


def format_report(result: dict) -> str:
    lines = ["suite      seed variant     best ± se          baseline ± se      best/base  FD2 best/base      steps"]
    for r in result["rows"]:
        if r["best"] is None or r["baseline"] is None:
            lines.append(f"{r['suite']:<10} {r['seed']:>4} {r['variant']:<11} no complete baseline and best trial")
            continue
        ratio = r["best"] / r["baseline"] if r["best"] and r["baseline"] else float("nan")
        clf = (f"{r['best_classifier_fd']:.3g}/{r['baseline_classifier_fd']:.3g}"
               if r["best_classifier_fd"] is not None and r["baseline_classifier_fd"] is not None else "-")
        lines.append(f"{r['suite']:<10} {r['seed']:>4} {r['variant']:<11} {r['best']:.4g} ± {r['best_se']:.2g}"
                     f"{'':<4} {r['baseline']:.4g} ± {r['baseline_se']:.2g}{'':<4} {ratio:8.3f}  {clf:<17} "
                     f"{r['steps']:>7}")
    for c in result["checks"]:
        lines.append(f"{c['suite']}: (a) best/baseline {', '.join(f'{v:.2f}' for v in c['a_best_over_baseline'])} "
                     f"(<= 0.8), second FD (classifier; translate: study features) better {c['a_classifier_fd_better']}: {_ok(c['a_pass'])}; "
                     + (f"(b) mean best TPE {c['b_tpe_mean_best']:.4g} vs random {c['b_random_mean_best']:.4g}: "
                        f"{_ok(c['b_pass'])}; " if c["b_pass"] is not None else "(b) not run; ") + "(c) " + "; ".join(
                         f"{v}: reached the unpruned best within noise {p['within_noise']} after "
                         + (f"{p['steps_ratio']:.0%}" if p["steps_ratio"] is not None else "-")
                         + f" of the unpruned steps (whole study {p['total_steps_ratio']:.0%}): {_ok(p['pass'])}"
                         for v, p in c["c_pruning"].items()))
    return "\n".join(lines)


def _ok(flag) -> str:
    return "PASS" if flag else "FAIL"


def run_search_bench(out: Path, suites=tuple(SUITES), seeds=(0, 1, 2), n_trials: int = 30, device: str = "auto",
                     jobs: int = 0, timeout: float = 3600, progress=print, variants=tuple(VARIANTS)) -> dict:
    """Write one study per suite, seed and variant under ``out``, run them (``jobs`` at a time), summarise."""
    from gansearch.run._runner import scorer_for
    from gansearch.study._prepare import prepare
    from gansearch.train._devices import host_cores, resolve_devices

    out = Path(out)
    gpu = resolve_devices(device)[0] != "cpu"
    jobs = jobs or (min(host_cores(), len(variants) * len(suites) * len(seeds)) if gpu else 1)
    workers = 1 if gpu else "auto"  # CPU: one study at a time, one worker per core
    studies = write_studies(out, suites, seeds, n_trials, device, workers, variants)
    for suite in suites:  # train each suite's classifier once, before the studies share it
        first = next(p for s, _, _, p in studies if s == suite)
        scorer_for(prepare(first))
    started = time.perf_counter()
    env_note = {"python": platform.python_version(), "machine": platform.platform(), "jobs": jobs}
    failed = []
    with ThreadPoolExecutor(jobs) as pool:
        for path, code, seconds, err in pool.map(lambda s: run_one(s[3], timeout), studies):
            progress(f"{path.parent.name}: exit {code} in {seconds:.0f} s")
            if code != 0:
                failed.append(f"{path.parent.name}: {err.strip().splitlines()[-1] if err.strip() else code}")
    result = summarise(studies)
    import torch

    result.update({"seconds": time.perf_counter() - started, "failed": failed, "n_trials": n_trials,
                   "device": torch.cuda.get_device_name(0) if gpu else platform.processor() or "cpu",
                   "date": time.strftime("%Y-%m-%d"), **env_note})
    (out / "bench-search.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
