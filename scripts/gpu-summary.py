"""Every GPU target of gansearch, what scripts/gpu-checks.sh measured, and pass/fail: OUT/gpu-summary.json.

Usage: python3 scripts/gpu-summary.py OUT   (reads OUT/bench32.json, bench64.json, tests_gpu.txt, quickstart.txt)
A step that did not run or did not finish is listed with measured null and pass false.
"""

import json
import re
import sys
from pathlib import Path

TARGETS = [  # (name, file, how to read it, at least / at most, target)
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


def summary(out: Path) -> dict:
    rows = []
    for name, file, read, op, target in TARGETS:
        data = read_json(out / file)
        try:
            value = None if data is None else read(data)
        except (KeyError, TypeError):
            value = None
        ok = value is not None and (value >= target if op == ">=" else value <= target)
        rows.append({"target": name, "wanted": f"{op} {target}", "measured": value, "pass": ok, "from": file})
    wall = last_match(out / "quickstart.txt", r"quickstart exit 0 wall_s ([0-9.]+)")
    rows.append({"target": "gansearch run studies/quickstart.yaml, wall seconds", "wanted": "<= 15",
                 "measured": None if wall is None else float(wall), "pass": wall is not None and float(wall) <= 15,
                 "from": "quickstart.txt"})
    code = last_match(out / "tests_gpu.txt", r"tests_gpu exit (\d+)")
    rows.append({"target": "tests_gpu/ (graphs equal eager, fallback, workers, memory)", "wanted": "exit 0",
                 "measured": None if code is None else int(code), "pass": code == "0", "from": "tests_gpu.txt"})
    bf16 = read_json(out / "bench64-bf16.json")
    if bf16 is not None:  # information for train.precision's default, not a target
        rows.append({"target": "64x64 one trial in bf16, gansearch / classic loop (information)", "wanted": "-",
                     "measured": bf16.get("ratio_single"), "pass": True, "from": "bench64-bf16.json"})
    layouts = read_json(out / "layouts.json")
    if layouts is not None:  # which layout workers: auto now uses, not a target
        best = layouts.get("best") or {}
        rows.append({"target": "fastest layout, worker processes x trials per worker (information)", "wanted": "-",
                     "measured": f"{best.get('workers')} x {best.get('trials_per_worker')}: "
                                 f"{best.get('img_s', 0):,.0f} img/s", "pass": True, "from": "layouts.json"})
    env = (out / "env.txt").read_text() if (out / "env.txt").exists() else ""
    card = re.search(r"NVIDIA [A-Z][\w -]*?(?= {2,}|\||\n)", env)
    torch_version = re.search(r"torch (\S+)", env)
    bench = read_json(out / "bench32.json") or {}
    return {"card": card.group(0).strip() if card else bench.get("device"),
            "torch": torch_version.group(1) if torch_version else bench.get("torch"),
            "date": bench.get("date"), "all_pass": all(r["pass"] for r in rows), "targets": rows}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "gpu-results")
    result = summary(out)
    (out / "gpu-summary.json").write_text(json.dumps(result, indent=2) + "\n")
    for r in result["targets"]:
        measured = "-" if r["measured"] is None else f"{r['measured']:.3g}"
        print(f"{'PASS' if r['pass'] else 'FAIL'}  {r['target']}: {measured} (wanted {r['wanted']})")
