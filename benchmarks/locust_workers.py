"""Locust's master + 2 workers vs one Locust process: ``.venv/bin/python benchmarks/locust_workers.py``.

Both drive the hello target (``hello_target.py``: one uvicorn process, ``hello_locustfile.py``:
users with no wait) through ``harness.load.LoadProcess`` (workers=0 vs workers=2), each round
against a fresh target, alternating the order (A B, B A, ...) so drift on a noisy machine hits
both. Throughput is requests recorded in the run's ``requests/`` folder per second of steady
state (the first ``--ramp`` seconds and the last second left out). The verdict is the median of
the per-round ratios (workers / single).

What bounds it is measured alongside: CPU seconds per wall second of the target process and of
the Locust processes (from /proc), and the machine's core count and load average. A target
near 1.0 CPU is saturated (one uvicorn process uses one core at most); Locust processes near
the core count mean load generation and target share the cores.

Prints a JSON summary and writes it to ``benchmarks/results/locust_workers.json``; scratch files
go to ``benchmarks/runs/`` (not versioned).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from harness.data import read_requests
from harness.load import LoadProcess
from harness.net import free_port, wait_for_port

HERE = Path(__file__).resolve().parent
TARGET = HERE / "hello_target.py"
LOCUSTFILE = HERE / "hello_locustfile.py"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children (so far), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICKS  # utime stime cutime cstime


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        out += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return out


class CpuSampler:
    """CPU seconds of a set of processes, sampled every 0.5 s (a process's last sample counts once it exits)."""

    def __init__(self) -> None:
        self.last: dict[int, float] = {}
        self.pids: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, pids: list[int]) -> None:
        self.pids = pids
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid in self.pids:
                value = cpu_seconds(pid)
                if value:
                    self.last[pid] = value

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return sum(self.last.values())


def one(workers: int, users: int, duration: float, ramp: float, scratch: Path) -> dict[str, Any]:
    port = free_port()
    scratch.mkdir(parents=True, exist_ok=True)
    with (scratch / "target.log").open("wb") as log:
        target = subprocess.Popen([sys.executable, str(TARGET), str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=20.0)
        load = LoadProcess(locustfile=LOCUSTFILE, host=f"http://127.0.0.1:{port}", users=users, spawn_rate=users,
                           duration=duration, user_classes=[], seed=1, out_dir=scratch / "requests",
                           log_path=scratch / "locust.log", workers=workers)
        target_cpu0 = cpu_seconds(target.pid)
        with load:
            t0 = load.wait_started(60.0)
            assert load.pid is not None
            locust_pids = [load.pid, *descendants(os.getpid())]
            locust_pids = sorted({p for p in locust_pids if p != target.pid})
            sampler = CpuSampler()
            sampler.start(locust_pids)
            wall0 = time.monotonic()
            control = load.drain()
            while load.poll() is None:
                control += load.drain()
                time.sleep(0.2)
            wall = time.monotonic() - wall0  # includes the workers' last report (about 4 s) after load ends
            target_cpu = cpu_seconds(target.pid) - target_cpu0
            locust_cpu = sampler.stop()
        control += load.drain()
    finally:
        target.terminate()
        target.wait(10)
    requests = read_requests(scratch / "requests")
    window = (t0 + ramp, t0 + duration - 1.0)
    steady = int(((requests.t >= window[0]) & (requests.t < window[1])).sum())
    stopped = next((r for r in control if r.get("kind") == "load_stopped"), {})
    return {"workers": workers, "requests": len(requests), "steady_rps": round(steady / (window[1] - window[0]), 1),
            "locust_total": stopped.get("locust_requests"), "target_cpu_per_s": round(target_cpu / wall, 2),
            "locust_cpu_per_s": round(locust_cpu / wall, 2), "errors": requests.errors_count()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--ramp", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    runs = HERE / "runs" / "locust_workers"
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    load_avg = os.getloadavg()
    rounds = []
    for i in range(args.rounds):
        order = [0, args.workers] if i % 2 == 0 else [args.workers, 0]
        results = {w: one(w, args.users, args.duration, args.ramp, runs / f"round{i}-w{w}") for w in order}
        single, multi = results[0], results[args.workers]
        rounds.append({"order": order, "single": single, "workers": multi,
                       "ratio": round(multi["steady_rps"] / single["steady_rps"], 3) if single["steady_rps"] else None})
        print(json.dumps(rounds[-1]), flush=True)
    ratios = [r["ratio"] for r in rounds if r["ratio"] is not None]
    summary = {
        "benchmark": "locust_workers", "started": started, "cores": os.cpu_count(), "load_avg_at_start": load_avg,
        "users": args.users, "duration_s": args.duration, "workers": args.workers, "rounds": rounds,
        "median_ratio": statistics.median(ratios) if ratios else None,
        "median_single_rps": statistics.median(r["single"]["steady_rps"] for r in rounds),
        "median_workers_rps": statistics.median(r["workers"]["steady_rps"] for r in rounds),
        "median_target_cpu_single": statistics.median(r["single"]["target_cpu_per_s"] for r in rounds),
        "median_target_cpu_workers": statistics.median(r["workers"]["target_cpu_per_s"] for r in rounds),
        "median_locust_cpu_single": statistics.median(r["single"]["locust_cpu_per_s"] for r in rounds),
        "median_locust_cpu_workers": statistics.median(r["workers"]["locust_cpu_per_s"] for r in rounds),
        "load_avg_at_end": os.getloadavg(),
    }
    out = HERE / "results" / "locust_workers.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rounds"}, indent=2))


if __name__ == "__main__":
    main()
