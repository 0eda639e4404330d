"""Bring-up time of a system with its independent services started together, against ``main``'s
one-at-a-time start, side by side: ``.venv/bin/python benchmarks/parallel_start.py [--system saga]``.

Each measurement is one local deployment in a fresh process (``runtimes.get("local")(DeployRequest)``,
as the runner does: Toxiproxy, proxies, every service healthy), timed until it returns; the two
codes alternate for ``--rounds`` (after one uncounted warm-up round). The baseline code comes from
``git archive --baseline-rev`` (default ``main``). Writes ``results/parallel_start.json``.
"""
from __future__ import annotations

import argparse
import json
import os
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

CHILD = r'''
import json, sys, tempfile, time
from pathlib import Path
from harness.events import RunEvents
from harness.journal import JournalWriter
from harness.runtime import DeployRequest, runtimes
from harness.system import load_system
system = load_system(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    journal = JournalWriter(Path(tmp) / "journal.jsonl")
    begun = time.perf_counter()
    dep = runtimes.get("local")(DeployRequest(system=system, run_dir=Path(tmp), journal=journal, events=RunEvents()))
    up = time.perf_counter() - begun
    dep.stop()
    journal.close()
    ready = {}
    for line in (Path(tmp) / "journal.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["kind"] == "service_started":
            ready[r["service"]] = r.get("ready_s")
print(json.dumps({"up_s": up, "ready_s": ready}))
'''


def export_tree(rev: str, into: Path) -> Path:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "harness", "targets"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def once(tree: Path, system: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "HARNESS_PROMETHEUS": "off"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(system)], capture_output=True, text=True, env=env, timeout=180)
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--system", default="saga")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--baseline-rev", default="main")
    args = p.parse_args()
    rel = Path("targets") / args.system / "system.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        base = export_tree(args.baseline_rev, Path(tmp))
        runs: dict[str, list[dict]] = {"parallel": [], "baseline": []}
        for i in range(args.rounds + 1):  # the first round warms caches and is not counted
            for kind, tree in (("parallel", ROOT), ("baseline", base)) if i % 2 == 0 else (("baseline", base), ("parallel", ROOT)):
                r = once(tree, tree / rel)
                if i:
                    runs[kind].append(r)
                print(i, kind, round(r["up_s"], 2), flush=True)
    doc = {"name": "parallel_start", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "system": args.system,
           "baseline_rev": args.baseline_rev, "loadavg_at_end": os.getloadavg()[0],
           "parallel_up_s_median": round(statistics.median(r["up_s"] for r in runs["parallel"]), 3),
           "baseline_up_s_median": round(statistics.median(r["up_s"] for r in runs["baseline"]), 3), "runs": runs}
    doc["ratio"] = round(doc["parallel_up_s_median"] / doc["baseline_up_s_median"], 3)
    (HERE / "results" / "parallel_start.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
