"""Run experiments on the sound system N times each and report how often every check passed.

Flakiness is measured, not hidden: for each experiment, the runs that passed, and for each check
its verdicts and the spread (min / median / max) of the figure it judged, next to its bound, so a
bound that a sound run comes close to is visible before it flakes. Each run holds one of the
machine-wide test slots (tests/slots.py), like the test suite.

    .venv/bin/python scripts/stability.py experiments/sidecar.yaml experiments/bff.yaml --runs 10 \\
        --out reports/stability.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# The figure a check judged, by the evidence key its type uses (first one present wins).
FIGURES = ("value_ms", "error_rate", "calls_per_request", "most_calls_on_one_path", "calls", "delay_s",
           "failover_time_s", "recovery_time_s", "non_conforming", "wrong", "unexplained_count")


def figure(check: dict[str, Any]) -> tuple[str, float] | None:
    ev = check.get("evidence", {})
    for key in FIGURES:
        if isinstance(ev.get(key), (int, float)) and not isinstance(ev.get(key), bool):
            return key, float(ev[key])
    return None


def run_once(experiment: str, out: Path) -> dict[str, Any]:
    from slots import experiment_slot

    with experiment_slot():
        started = time.monotonic()
        code = subprocess.run([str(ROOT / ".venv" / "bin" / "harness"), "run", str(ROOT / experiment), "--out", str(out),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True).returncode
        seconds = time.monotonic() - started
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").is_file() else {}
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    return {"exit_code": code, "status": result.get("status"), "seconds": round(seconds, 1), "load": load,
            "checks": [{"name": f"{c['group']}:{c['name']}" if c.get("group") != "checks" else c["name"],
                        "verdict": c["verdict"], "summary": c["summary"], "figure": figure(c)}
                       for c in result.get("checks", [])]}


def summarise(experiment: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    verdicts: dict[str, Counter[str]] = defaultdict(Counter)
    figures: dict[str, list[float]] = defaultdict(list)
    keys: dict[str, str] = {}
    failures: dict[str, list[str]] = defaultdict(list)
    for r in runs:
        for c in r["checks"]:
            verdicts[c["name"]][c["verdict"]] += 1
            if c["figure"]:
                keys[c["name"]], value = c["figure"]
                figures[c["name"]].append(value)
            if c["verdict"] != "passed":
                failures[c["name"]].append(c["summary"])
    checks = {}
    for name, counts in verdicts.items():
        vals = sorted(figures.get(name, []))
        checks[name] = {"verdicts": dict(counts), "figure": keys.get(name),
                        "spread": [vals[0], statistics.median(vals), vals[-1]] if vals else None,
                        "not_passed": failures.get(name, [])}
    return {"experiment": experiment, "runs": len(runs), "passed": sum(r["exit_code"] == 0 for r in runs),
            "exit_codes": [r["exit_code"] for r in runs], "load": [r["load"] for r in runs],
            "seconds": [r["seconds"] for r in runs], "checks": checks}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("experiments", nargs="+")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    report = []
    with tempfile.TemporaryDirectory(prefix="stability-") as tmp:
        for experiment in args.experiments:
            runs = []
            for i in range(args.runs):
                r = run_once(experiment, Path(tmp) / f"{Path(experiment).stem}-{i}")
                runs.append(r)
                bad = [c["name"] for c in r["checks"] if c["verdict"] != "passed"]
                print(f"{experiment} run {i + 1}/{args.runs}: exit {r['exit_code']} ({r['seconds']}s, load {r['load']})"
                      + (f" not passed: {', '.join(bad)}" if bad else ""), flush=True)
            s = summarise(experiment, runs)
            report.append(s)
            print(f"== {experiment}: {s['passed']}/{s['runs']} passed")
            for name, c in s["checks"].items():
                spread = "" if not c["spread"] else (f"  {c['figure']} min {c['spread'][0]:g} median {c['spread'][1]:g} "
                                                       f"max {c['spread'][2]:g}")
                print(f"   {name}: {c['verdicts']}{spread}")
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
