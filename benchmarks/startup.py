"""How long each target system takes to come up (and go down) per runtime:
``.venv/bin/python benchmarks/startup.py``.

For every system in ``targets/*/system.yaml`` it deploys the system with each runtime through
the same call the runner makes (``runtimes.get(name)(DeployRequest(...))``: Toxiproxy up,
proxies wired, every service started and healthy), then stops it. The runtimes alternate
within each round (local, docker, local+metrics, docker+metrics; then the next round) so drift on a
shared machine hits all of them alike. Reported: median, min and max of the seconds to be
up, and of the seconds to be gone.

    local            processes on loopback (and a Prometheus process when one is installed)
    docker           containers (and the Prometheus container when its image is there)
    local+metrics    local, as when a check reads metrics: also waits for Prometheus's first scrape
    docker+metrics   docker, the same

Prints a JSON summary and writes it to ``benchmarks/results/startup.json`` (``--out`` names another).
"""
from __future__ import annotations

import argparse
import datetime as dt
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

from harness.events import RunEvents
from harness.journal import JournalWriter
from harness.runtime import DeployRequest, runtimes
from harness.system import load_system

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODES = {"local": ("local", False), "docker": ("docker", False), "local+metrics": ("local", True),
         "docker+metrics": ("docker", True)}


def once(system_path: Path, mode: str) -> tuple[float, float]:
    runtime, metrics = MODES[mode]
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        journal = JournalWriter(Path(tmp) / "journal.jsonl")
        system = load_system(system_path)
        began = time.monotonic()
        deployment = runtimes.get(runtime)(DeployRequest(system=system, run_dir=Path(tmp), journal=journal,
                                                         events=RunEvents(), metrics_needed=metrics))
        up = time.monotonic() - began
        began = time.monotonic()
        deployment.stop()
        down = time.monotonic() - began
        journal.close()
        return up, down


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES))
    ap.add_argument("--systems", default="", help="comma-separated system names (default: all)")
    ap.add_argument("--manifest", action="append", type=Path, default=[],
                    help="also measure this system.yaml (e.g. tests/integration/docker_pg/system.yaml: PostgreSQL)")
    ap.add_argument("--out", default="startup.json", help="file name under benchmarks/results/")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    wanted = {s for s in args.systems.split(",") if s}
    systems = [p for p in sorted((ROOT / "targets").glob("*/system.yaml")) if not wanted or p.parent.name in wanted]
    systems += [m.resolve() for m in args.manifest]
    results: dict[str, Any] = {}
    for path in systems:
        name = load_system(path).name
        once(path, "local")  # warm the page cache and Python's bytecode before anything is timed
        ups: dict[str, list[float]] = {m: [] for m in modes}
        downs: dict[str, list[float]] = {m: [] for m in modes}
        failures: dict[str, list[str]] = {m: [] for m in modes}
        for _ in range(args.rounds):
            for mode in modes:
                try:
                    up, down = once(path, mode)
                except Exception as exc:  # a start that failed (e.g. a port taken by another process) is reported
                    failures[mode].append(str(exc).splitlines()[0][:200])
                    print(f"{name:24} {mode:18} FAILED: {failures[mode][-1]}", flush=True)
                    continue
                ups[mode].append(up)
                downs[mode].append(down)
                print(f"{name:24} {mode:18} up {up:6.2f}s  down {down:6.2f}s", flush=True)
        results[name] = {"services": len(load_system(path).services),
                         **{m: {"up_s": summary(ups[m]), "down_s": summary(downs[m]),
                                "up_runs": [round(v, 3) for v in ups[m]], "failures": failures[m]}
                            for m in modes if ups[m]}}
    load = os.getloadavg()
    out = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "rounds": args.rounds,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                       "loadavg_at_end": [round(x, 2) for x in load], "docker": _docker_version()},
           "systems": results}
    text = json.dumps(out, indent=2)
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / args.out).write_text(text + "\n")
    return 0


def _docker_version() -> str:
    try:
        return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
