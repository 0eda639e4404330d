"""The post-load stage at scale: read the history, run the checks, write every report.

    .venv/bin/python benchmarks/post_load.py                      # 10k, 100k, 1M requests; new vs main
    .venv/bin/python benchmarks/post_load.py --sizes 1000000 --baseline-rev none

Builds synthetic runs in the real on-disk format (``journal.jsonl`` + ``requests/*.hreq``,
written with the same ``ChunkWriter`` the Locust process uses) shaped like
``experiments/circuit-breaker.yaml`` at 8,000 requests/s: steady load, ``payments-slow`` over
the middle third (slow answers, then fast fallbacks), the breaker's events, 0.5% failures.
Then, in a fresh process per measurement, times exactly what the runner does after load:
``read_journal`` -> ``evaluate`` (every check and steady-state condition of the experiment)
-> ``write_reports`` (result.json, junit.xml, report.html), and reads that process's peak RSS.

With ``--baseline-rev REV`` (default ``main``) the same run is also written in the format REV
reads (requests as JSON lines inside ``journal.jsonl``) and measured with REV's code (from
``git archive``), alternating with the new code, so the ratio is measured side by side.
Writes ``results/post_load.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXPERIMENT = ROOT / "experiments" / "circuit-breaker.yaml"
T0 = 1_800_000_000.0
RATE = 8000.0

CHILD = r'''
import json, resource, sys, time
from pathlib import Path
from harness.checks import evaluate
from harness.experiment import load_experiment
from harness.journal import read_journal
from harness.report import write_reports
from harness.result import RunResult
run = Path(sys.argv[1])
t0 = time.perf_counter()
history = read_journal(run / "journal.jsonl")
t1 = time.perf_counter()
exp = load_experiment(history.run["experiment_path"])
checks = evaluate(exp, history)
t2 = time.perf_counter()
result = RunResult(experiment=exp.name, system=exp.target.name, run_dir=run, seed=42, runtime="local",
                   started=history.run["t"], finished=history.first("run_finished")["t"], checks=checks,
                   experiment_path=str(exp.path))
write_reports(run, result, history)
t3 = time.perf_counter()
print(json.dumps({"total_s": t3 - t0, "read_s": t1 - t0, "checks_s": t2 - t1, "reports_s": t3 - t2,
                  "requests": len(history.requests), "verdicts": [c.verdict for c in checks],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def records_and_requests(n: int):  # type: ignore[no-untyped-def]
    """(journal records, an iterator of request tuples sorted by start) of a synthetic run."""
    d = n / RATE
    f0, f1 = T0 + 0.3 * d, T0 + 0.6 * d
    recs = [
        {"kind": "run_started", "t": T0 - 1, "experiment": "circuit-breaker", "experiment_path": str(EXPERIMENT),
         "system": "circuit-breaker", "defect": None, "seed": 42, "runtime": "local",
         "steady_state": {"warmup": 3.0, "settle": 6.0}},
        {"kind": "phase", "t": T0 - 0.5, "phase": "load"},
        {"kind": "load_started", "t": T0, "users": 8, "spawn_rate": 8},
        {"kind": "fault_applied", "t": f0, "fault": "payments-slow", "type": "latency", "target": "orders->payments",
         "attributes": {"latency": 2000}, "stream": "downstream", "toxicity": 1.0, "took_ms": 3.0},
        {"kind": "event", "t": f0 + 0.5, "service": "orders", "type": "breaker_state", "state": "open", "previous": "closed"},
        {"kind": "event", "t": f0 + 3.5, "service": "orders", "type": "breaker_state", "state": "half_open", "previous": "open"},
        {"kind": "fault_removed", "t": f1, "fault": "payments-slow"},
        {"kind": "event", "t": f1 + 1.0, "service": "orders", "type": "breaker_state", "state": "closed", "previous": "half_open"},
        {"kind": "load_stopped", "t": T0 + d},
        {"kind": "run_finished", "t": T0 + d + 1, "status": "completed", "error": None},
    ]

    def requests():  # type: ignore[no-untyped-def]
        for i in range(n):
            t = T0 + i / RATE
            ms = 4.0 + (i * 7919 % 1000) / 100.0
            if f0 <= t < f0 + 0.5:
                ms = 2000.0 + ms
            elif f0 + 0.5 <= t < f1:
                ms = 1.0 + ms / 10
            outcome = 1 if i % 200 == 0 else 0
            yield (t, ms, outcome, 500 if outcome else 200, 40, "POST /orders", "POST",
                   "HTTP 500" if outcome else None)
    return recs, requests()


def build_new(folder: Path, n: int) -> None:
    from harness.data.chunks import ChunkWriter

    recs, reqs = records_and_requests(n)
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    w = ChunkWriter(folder / "requests" / "locust.hreq")
    per_flush = int(RATE * 0.2)  # the Locust process writes a chunk every 0.2 s
    for i, row in enumerate(reqs):
        w.add(*row)
        if i % per_flush == per_flush - 1:
            w.flush()
    w.close()


def build_old(folder: Path, n: int) -> None:
    recs, reqs = records_and_requests(n)
    folder.mkdir(parents=True)
    names = ("ok", "fail", "info")
    with (folder / "journal.jsonl").open("w") as f:
        for r in recs[:3]:
            f.write(json.dumps(r) + "\n")
        for t, ms, o, status, nbytes, name, method, error in reqs:
            f.write(json.dumps({"kind": "request", "t": t, "name": name, "method": method, "ms": ms, "outcome": names[o],
                                "status": status, "error": error, "bytes": nbytes}, separators=(",", ":")) + "\n")
        for r in recs[3:]:
            f.write(json.dumps(r) + "\n")


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def measure(tree: Path, folder: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, env=env, cwd=tree)
    if proc.returncode:
        raise SystemExit(f"measurement failed in {tree}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def export_tree(rev: str, into: Path) -> Path:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "harness", "targets", "experiments"],
                          capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--rounds", type=int, default=3, help="measurements per size and code (median reported)")
    p.add_argument("--baseline-rev", default="main", help="git revision to compare with, or 'none'")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    out: dict = {"name": "post_load", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "loadavg_at_start": os.getloadavg()[0]},
                 "rate": RATE, "baseline_rev": args.baseline_rev, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = export_tree(args.baseline_rev, Path(tmp) / "baseline") if args.baseline_rev != "none" else None
        for n in (int(s) for s in args.sizes.split(",")):
            new_dir, old_dir = Path(tmp) / f"new-{n}", Path(tmp) / f"old-{n}"
            build_new(new_dir, n)
            size_before_reports = folder_mb(new_dir)
            if base_tree is not None:
                build_old(old_dir, n)
            runs: dict[str, list[dict]] = {"new": [], "baseline": []}
            for _ in range(args.rounds):
                runs["new"].append(measure(ROOT, new_dir))
                if base_tree is not None:
                    runs["baseline"].append(measure(base_tree, old_dir))
            row: dict = {"run_folder_mb": round(folder_mb(new_dir), 1), "stored_history_mb": round(size_before_reports, 1)}
            for code, rs in runs.items():
                if rs:
                    row[code] = {k: round(statistics.median(r[k] for r in rs), 3)
                                 for k in ("total_s", "read_s", "checks_s", "reports_s", "peak_rss_mb")}
                    row[code]["verdicts"] = rs[0]["verdicts"]
                    row[code]["requests"] = rs[0]["requests"]
            if base_tree is not None:
                row["baseline_run_folder_mb"] = round(folder_mb(old_dir), 1)
                row["speedup"] = round(row["baseline"]["total_s"] / row["new"]["total_s"], 2)
                row["rss_ratio"] = round(row["new"]["peak_rss_mb"] / row["baseline"]["peak_rss_mb"], 3)
                assert row["new"]["verdicts"] == row["baseline"]["verdicts"], (row["new"]["verdicts"], row["baseline"]["verdicts"])
            out["sizes"][str(n)] = row
            print(n, json.dumps(row), flush=True)
            for d in (new_dir, old_dir):
                subprocess.run(["rm", "-rf", str(d)], check=False)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "post_load.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
