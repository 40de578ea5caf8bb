"""Every GPU target of gansearch, what scripts/gpu-checks.sh measured, and pass/fail: OUT/gpu-summary.json.

Usage: python3 scripts/gpu-summary.py OUT
Reads what the steps left in OUT (bench32.json, bench64.json, layouts.json, tests_gpu.txt, and for each study run
NAME in quickstart, quickstart-bf16 and colorize: NAME.txt, NAME-timings.json, NAME-trials.csv, NAME-gpu.csv).
A step that did not run or did not finish is listed with measured null and pass false; rows marked
(information) have no target.
"""

import csv
import datetime
import json
import re
import statistics
import sys
from pathlib import Path

BENCH_TARGETS = [  # (name, file, how to read it, at least / at most, target)
    ("32x32 one trial, gansearch / classic loop", "bench32.json", lambda r: r["ratio_single"], ">=", 6.0),
    ("32x32 whole study, gansearch / classic loop", "bench32.json", lambda r: r["ratio_study"], ">=", 15.0),
    ("32x32 setup share of a 300-step trial", "bench32.json", lambda r: r["gansearch"]["study_setup_share"], "<=", 0.10),
    ("64x64 one trial, gansearch / classic loop", "bench64.json", lambda r: r["ratio_single"], ">=", 3.0),
    ("64x64 whole study, gansearch / classic loop", "bench64.json", lambda r: r["ratio_study"], ">=", 3.0),
]


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def last_match(path: Path, pattern: str):
    try:
        found = re.findall(pattern, path.read_text())
    except OSError:
        return None
    return found[-1] if found else None


def read_trials(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def number(row: dict, key: str) -> float | None:
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return None


def row(target: str, wanted: str, measured, ok: bool | None, source: str) -> dict:
    """ok None: information, no target."""
    return {"target": target + (" (information)" if ok is None else ""), "wanted": wanted, "measured": measured,
            "pass": True if ok is None else bool(ok), "from": source}


def gpu_busy(out: Path, name: str, timings: dict | None) -> float | None:
    """Mean GPU utilisation (%) sampled by nvidia-smi while the run's trials phase lasted."""
    if not timings:
        return None
    phases = {p["phase"]: p for p in timings.get("phases", [])}
    trials = phases.get("trials")
    if not trials or "ended" not in trials:
        return None
    end = trials["ended"]
    start = end - trials["seconds"]
    samples = []
    try:
        lines = (out / f"{name}-gpu.csv").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            stamp, util = (part.strip() for part in line.split(","))
            at = datetime.datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f").timestamp()
            if start <= at <= end:
                samples.append(float(util))
        except ValueError:
            continue
    return round(statistics.fmean(samples), 1) if samples else None


def study_rows(out: Path, name: str, label: str) -> tuple[list[dict], dict]:
    """Rows for one study run, and facts about it for other rows."""
    text = out / f"{name}.txt"
    wall = last_match(text, rf"{name} exit 0 wall_s ([0-9.]+)")
    ratio = last_match(text, r"best/baseline: ([0-9.]+)")
    timings = read_json(out / f"{name}-timings.json")
    trials = read_trials(out / f"{name}-trials.csv")
    complete = [t for t in trials if t.get("state") == "complete"]
    finished = [t for t in trials if t.get("state") in ("complete", "pruned")]
    facts = {"wall": None if wall is None else float(wall), "best/baseline": None if ratio is None else float(ratio),
             "timings": timings, "trials": trials}
    rows = []
    sums = {k: round(sum(number(t, k) or 0.0 for t in trials), 3) for k in ("setup_s", "train_s", "score_s",
                                                                             "artifacts_s")}
    if timings:  # where the wall time went: the run's phases, and inside "trials" each trial's own split
        split = {p["phase"]: p["seconds"] for p in timings["phases"]}
        rows.append(row(f"{label}: wall time split", "-", {"phases": split, "trials (summed over trials)": sums},
                        None, f"{name}-timings.json"))
    phase = next((p for p in (timings or {}).get("phases", []) if p["phase"] == "trials"), None)
    if phase and finished:
        rows.append(row(f"{label}: trials phase seconds per finished trial", "-",
                        round(phase["seconds"] / len(finished), 3), None, f"{name}-timings.json"))
    rows.append(row(f"{label}: GPU busy share while trials ran, %", "-", gpu_busy(out, name, timings), None,
                    f"{name}-gpu.csv"))
    modes = sorted({t.get("step_mode", "") for t in trials})
    rows.append(row(f"{label}: step modes, precision", "-", {"modes": modes, "precision": sorted(
        {t.get("train_precision", "") for t in trials}), "best/baseline": facts["best/baseline"]}, None, f"{name}.txt"))
    facts["complete"], facts["finished"], facts["phase"] = complete, finished, phase
    return rows, facts


def summary(out: Path) -> dict:
    rows = []
    for name, file, read, op, target in BENCH_TARGETS:
        data = read_json(out / file)
        try:
            value = None if data is None else read(data)
        except (KeyError, TypeError):
            value = None
        ok = value is not None and (value >= target if op == ">=" else value <= target)
        rows.append(row(name, f"{op} {target}", value, ok, file))

    quick_rows, quick = study_rows(out, "quickstart", "quickstart")
    wall = quick["wall"]
    rows.append(row("gansearch run studies/quickstart.yaml, wall seconds", "<= 15", wall,
                    wall is not None and wall <= 15, "quickstart.txt"))
    scores = [number(t, "score_s") for t in quick["complete"]]
    worst = max((s for s in scores if s is not None), default=None)
    rows.append(row("quickstart: a complete trial's score_s, the largest (512 samples)", "<= 0.15", worst,
                    worst is not None and worst <= 0.15, "quickstart-trials.csv"))
    train = sum(number(t, "train_s") or 0.0 for t in quick["trials"])
    score = sum(number(t, "score_s") or 0.0 for t in quick["trials"])
    share = round(score / train, 3) if train else None
    rows.append(row("quickstart: score_s / train_s over its trials", "<= 0.25", share,
                    share is not None and share <= 0.25, "quickstart-trials.csv"))
    rows += quick_rows

    color_rows, color = study_rows(out, "colorize", "colorize_shapes")
    per_trial = (round(color["phase"]["seconds"] / len(color["finished"]), 3)
                 if color["phase"] and color["finished"] else None)
    rows.append(row("colorize_shapes: seconds per trial (trials phase / finished trials)", "<= 3", per_trial,
                    per_trial is not None and per_trial <= 3, "colorize-timings.json"))
    rows += color_rows

    code = last_match(out / "tests_gpu.txt", r"tests_gpu exit (\d+)")
    rows.append(row("tests_gpu/ (graphs equal eager, fallback, workers, interleaved trials, memory)", "exit 0",
                    None if code is None else int(code), code == "0", "tests_gpu.txt"))

    if (out / "quickstart-bf16.txt").exists():  # for train.precision's default, not a target
        bf16_rows, bf16 = study_rows(out, "quickstart-bf16", "quickstart in bf16")
        rows.append(row("precision: quickstart wall seconds and best/baseline, tf32 against bf16", "-",
                        {"tf32": [wall, quick["best/baseline"]], "bf16": [bf16["wall"], bf16["best/baseline"]]},
                        None, "quickstart.txt, quickstart-bf16.txt"))
        rows += bf16_rows
    layouts = read_json(out / "layouts.json")
    if layouts is not None:  # which layout workers: auto now uses, not a target
        best = layouts.get("best") or {}
        rows.append(row("fastest layout, worker processes x trials per worker", "-",
                        f"{best.get('workers')} x {best.get('trials_per_worker')}: {best.get('img_s', 0):,.0f} img/s",
                        None, "layouts.json"))
    proxy = read_json(out / "bench-confirm.json")
    if proxy is not None:  # issue 18, only when the proxy step was named
        suite = next((x for x in proxy.get("summary", []) if x["suite"] == "shapes32"), None)
        value = None if suite is None else round(suite["spearman_mean"], 3)
        rows.append(row("shapes 32x32 proxy: mean Spearman, search score against confirmed score", ">= 0.7", value,
                        value is not None and value >= 0.7, "bench-confirm.json"))
        rows.append(row("shapes 32x32 proxy: studies whose best held within noise", "-",
                        None if suite is None else f"{suite['best_holds']} of {suite['studies']}", None,
                        "bench-confirm.json"))
    env = (out / "env.txt").read_text() if (out / "env.txt").exists() else ""
    card = re.search(r"NVIDIA [A-Z][\w -]*?(?= {2,}|\||\n)", env)
    torch_version = re.search(r"torch (\S+)", env)
    bench = read_json(out / "bench32.json") or {}
    targets = [r for r in rows if not r["target"].endswith("(information)")]
    return {"card": card.group(0).strip() if card else bench.get("device"),
            "torch": torch_version.group(1) if torch_version else bench.get("torch"),
            "date": bench.get("date"), "all_pass": all(r["pass"] for r in targets), "targets": rows}


def shown(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value) if not isinstance(value, (dict, list)) else json.dumps(value)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "gpu-results")
    result = summary(out)
    (out / "gpu-summary.json").write_text(json.dumps(result, indent=2) + "\n")
    for r in result["targets"]:
        verdict = "info" if r["target"].endswith("(information)") else ("PASS" if r["pass"] else "FAIL")
        print(f"{verdict}  {r['target']}: {shown(r['measured'])} (wanted {r['wanted']})")
