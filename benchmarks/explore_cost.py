"""What a ``harness explore`` cell costs beyond its phases, and what judging the cells costs.

    .venv/bin/python benchmarks/explore_cost.py --system circuit-breaker --faults down,kill,latency-above
    .venv/bin/python benchmarks/explore_cost.py --run-dir reports/<an explore run>     # measure a finished run

Runs ``harness explore`` (or reads a finished explore's folder) and splits each cell's wall time,
from its journal, into

    start      cell_started -> its load started (the Locust process starting up)
    phases     its load, start to stop (warm-up + baseline + fault + recovery)
    heal       load stopped -> the cell's last records before quiescence (fault removal, drains)
    quiet      waiting for quiescence and reading the audits (systems with invariants)

then times the analysis (``analyse``: every cell judged from the journal) in this process, median
of 5. Figures are medians over the cells, with the machine's load average at the start: this
machine is shared, so compare runs made side by side only. Writes ``results/explore_cost-<system>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from harness.explore.analysis import reanalyse  # noqa: E402
from harness.journal import read_journal  # noqa: E402


def cell_costs(run_dir: Path) -> list[dict[str, Any]]:
    history = read_journal(run_dir / "journal.jsonl")
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in history.records:
        kind = r["kind"]
        if kind == "cell_started":
            current = {"cell": r["cell"], "started": r["t"]}
        elif current is None:
            continue
        elif kind == "segment_started":
            current["load_started"] = r["t"]
        elif kind == "segment_stopped":
            current["load_stopped"] = r["t"]
        elif kind == "quiescence":
            current["quiescence"] = r["t"]
            current["waited_s"] = r.get("waited_s")
        elif kind == "cell_finished":
            c = current
            end = r["t"]
            quiet_from = c.get("quiescence", end) - (c.get("waited_s") or 0.0)
            out.append({"cell": c["cell"], "total_s": round(end - c["started"], 2),
                        "start_s": round(c["load_started"] - c["started"], 2),
                        "phases_s": round(c["load_stopped"] - c["load_started"], 2),
                        "heal_s": round((quiet_from if "quiescence" in c else end) - c["load_stopped"], 2),
                        "quiet_s": round(end - quiet_from, 2) if "quiescence" in c else 0.0})
            current = None
    return out


def median(rows: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in rows), 2) if rows else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--system", default="circuit-breaker")
    ap.add_argument("--faults", default="down,kill,latency-above")
    ap.add_argument("--phases", default=None, help="baseline,fault,recovery (default: explore's)")
    ap.add_argument("--run-dir", type=Path, help="measure this finished explore instead of running one")
    args = ap.parse_args()
    load_at_start = os.getloadavg()[0]
    if args.run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="explore-cost-")) / "run"
        cmd = [sys.executable, "-m", "harness.cli", "explore", args.system, "--faults", args.faults, "--out",
               str(run_dir), "--quiet"] + (["--phases", args.phases] if args.phases else [])
        started = time.monotonic()
        subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True)
        wall = round(time.monotonic() - started, 1)
    else:
        run_dir, wall = args.run_dir, None
    cells = cell_costs(run_dir)
    history = read_journal(run_dir / "journal.jsonl")
    timings = []
    for _ in range(5):
        t = time.perf_counter()
        analysis = reanalyse(history)
        timings.append(time.perf_counter() - t)
    doc = {"name": "explore_cost", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg_at_start": load_at_start},
           "system": history.run.get("system"), "wall_s": wall, "cells": len(cells),
           "phases": history.run.get("explore", {}).get("phases"),
           "median_per_cell_s": {k: median(cells, k) for k in ("total_s", "start_s", "phases_s", "heal_s", "quiet_s")},
           "analysis_s_median_of_5": round(statistics.median(timings), 3),
           "requests": len(history.requests), "checks": len(analysis.checks), "per_cell": cells}
    out = HERE / "results" / f"explore_cost-{doc['system']}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "per_cell"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
