"""How long each target system takes to come up (and go down) per runtime:
``.venv/bin/python benchmarks/startup.py``.

For every system in ``targets/*/system.yaml`` it deploys the system with each runtime through
the same call the runner makes (``runtimes.get(name)(DeployRequest(...))``: Toxiproxy up,
proxies wired, every service started and healthy), then stops it. The runtimes alternate
within each round (local, docker, docker+prometheus; then the next round) so drift on a
shared machine hits all of them alike. Reported: median, min and max of the seconds to be
up, and of the seconds to be gone.

    local               processes on loopback
    docker              containers, no Prometheus (HARNESS_PROMETHEUS_IMAGE=none)
    docker+prometheus   containers and the Prometheus container, up to its first scrape of every target

Prints a JSON summary and writes it to ``benchmarks/results/startup.json``.
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
MODES = {"local": ("local", None), "docker": ("docker", "none"), "docker+prometheus": ("docker", None)}


def once(system_path: Path, mode: str) -> tuple[float, float]:
    runtime, prometheus = MODES[mode]
    saved = os.environ.get("HARNESS_PROMETHEUS_IMAGE")
    if prometheus is not None:
        os.environ["HARNESS_PROMETHEUS_IMAGE"] = prometheus
    try:
        with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
            journal = JournalWriter(Path(tmp) / "journal.jsonl")
            system = load_system(system_path)
            began = time.monotonic()
            deployment = runtimes.get(runtime)(DeployRequest(system=system, run_dir=Path(tmp), journal=journal,
                                                             events=RunEvents()))
            up = time.monotonic() - began
            began = time.monotonic()
            deployment.stop()
            down = time.monotonic() - began
            journal.close()
            return up, down
    finally:
        if saved is None:
            os.environ.pop("HARNESS_PROMETHEUS_IMAGE", None)
        else:
            os.environ["HARNESS_PROMETHEUS_IMAGE"] = saved


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES))
    ap.add_argument("--systems", default="", help="comma-separated system names (default: all)")
    ap.add_argument("--manifest", action="append", type=Path, default=[],
                    help="also measure this system.yaml (e.g. tests/integration/docker_pg/system.yaml: PostgreSQL)")
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
        for _ in range(args.rounds):
            for mode in modes:
                up, down = once(path, mode)
                ups[mode].append(up)
                downs[mode].append(down)
                print(f"{name:24} {mode:18} up {up:6.2f}s  down {down:6.2f}s", flush=True)
        results[name] = {"services": len(load_system(path).services),
                         **{m: {"up_s": summary(ups[m]), "down_s": summary(downs[m]), "up_runs": [round(v, 3) for v in ups[m]]}
                            for m in modes}}
    load = os.getloadavg()
    out = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "rounds": args.rounds,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                       "loadavg_at_end": [round(x, 2) for x in load], "docker": _docker_version()},
           "systems": results}
    text = json.dumps(out, indent=2)
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "startup.json").write_text(text + "\n")
    return 0


def _docker_version() -> str:
    try:
        return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
