"""Run experiments N times in a row, sound, and report how stable each check is.

A bound is only as good as its margin over what the sound system does on a busy machine: for
every check this prints how often it passed and the spread (min / median / max) of the figure it
judged next to its bound, so a flaky check shows as a figure close to its bound, not as a
mysterious red run.

    .venv/bin/python scripts/stability.py experiments/saga.yaml experiments/cqrs.yaml --runs 10 \\
        --out reports/stability.json

Figures are read from each check's evidence (``value_ms``/``max_allowed_ms`` for latency, ``error_rate``/``max``,
``delay_s``/``within_s``, ...); checks without one report their pass count only.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from slots import experiment_slot, weight_of  # noqa: E402  (one of the machine-wide experiment slots, as tests take)

# (figure, bound) evidence keys, tried in order; the first pair found in a check's evidence is used.
FIGURES: list[tuple[str, str]] = [("value_ms", "max_allowed_ms"), ("error_rate", "max"), ("delay_s", "within_s"),
                                  ("ratio", "max_ratio"), ("staleness_p", "max_s")]


def figure(evidence: dict[str, Any]) -> tuple[float, float] | None:
    for value, bound in FIGURES:
        if isinstance(evidence.get(value), (int, float)) and isinstance(evidence.get(bound), (int, float)):
            return float(evidence[value]), float(evidence[bound])
    conv = evidence.get("convergence")
    if isinstance(conv, dict) and isinstance(conv.get("delay_s"), (int, float)) and isinstance(conv.get("within_s"), (int, float)):
        return float(conv["delay_s"]), float(conv["within_s"])
    return None


def run_once(experiment: str, out: Path, seed: int | None) -> dict[str, Any]:
    args = [sys.executable, "-m", "harness.cli", "run", str(ROOT / experiment), "--out", str(out), "--quiet"]
    if seed is not None:
        args += ["--seed", str(seed)]
    with experiment_slot(weight=weight_of(ROOT / experiment)):
        started = time.monotonic()
        code = subprocess.run(args, cwd=ROOT, capture_output=True, text=True).returncode
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    return {"exit": code, "seconds": round(time.monotonic() - started, 1), "checks": result.get("checks", [])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiments", nargs="+")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--vary-seed", action="store_true", help="seed run i with i (default: the experiment's own seed)")
    p.add_argument("--out", type=Path)
    p.add_argument("--keep-failed", type=Path, metavar="DIR",
                   help="copy the run folder of every run that did not exit 0 here (its evidence and logs)")
    args = p.parse_args(argv)
    report: dict[str, Any] = {}
    all_passed = True
    with tempfile.TemporaryDirectory(prefix="stability-") as tmp:
        for exp in args.experiments:
            runs = []
            for i in range(args.runs):
                r = run_once(exp, Path(tmp) / f"{Path(exp).stem}-{i}", i if args.vary_seed else None)
                runs.append(r)
                if r["exit"] != 0 and args.keep_failed:
                    kept = args.keep_failed / f"{Path(exp).stem}-{i}"
                    shutil.copytree(Path(tmp) / f"{Path(exp).stem}-{i}", kept, dirs_exist_ok=True)
                    print(f"  kept {kept}", flush=True)
                failing = [c["name"] for c in r["checks"] if c["verdict"] != "passed"]
                print(f"{exp} run {i + 1}/{args.runs}: exit {r['exit']} in {r['seconds']}s"
                      + (f"; not passed: {', '.join(failing)}" if failing else ""), flush=True)
            checks: dict[str, dict[str, Any]] = {}
            for r in runs:
                for c in r["checks"]:
                    entry = checks.setdefault(c["name"], {"passed": 0, "verdicts": [], "figures": [], "bound": None})
                    entry["passed"] += c["verdict"] == "passed"
                    entry["verdicts"].append(c["verdict"])
                    fig = figure(c.get("evidence", {}))
                    if fig:
                        entry["figures"].append(fig[0])
                        entry["bound"] = fig[1]
            passed_runs = sum(r["exit"] == 0 for r in runs)
            all_passed &= passed_runs == len(runs)
            report[exp] = {"runs": len(runs), "passed": passed_runs, "seconds": [r["seconds"] for r in runs], "checks": checks}
            print(f"\n{exp}: {passed_runs}/{len(runs)} runs passed")
            for name, e in checks.items():
                spread = ""
                if e["figures"]:
                    f = sorted(e["figures"])
                    spread = f"  min {f[0]:.4g} / median {statistics.median(f):.4g} / max {f[-1]:.4g} (bound {e['bound']:.4g})"
                print(f"  {e['passed']:2}/{len(e['verdicts'])} {name}{spread}")
            print()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0 if all_passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
