"""Harness memory over a long run at the machine's max rate: is RSS flat while load runs?

    .venv/bin/python benchmarks/rss_soak.py [--minutes 10] [--users 20]

Runs ``harness run benchmarks/hello/experiment.yaml`` (the real CLI, no fault, users sending
back to back) for ``--minutes``, samples every 5 s the RSS of the harness process and of its
Locust child from /proc, and reports each minute's last sample. The goal: the harness's RSS
at minute 10 within 50 MB of minute 1. Writes ``results/rss_soak.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--users", type=int, default=20)
    args = p.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / "experiment.yaml"
        exp.write_text((HERE / "hello" / "experiment.yaml").read_text()
                       .replace("system: system.yaml", f"system: {HERE / 'hello' / 'system.yaml'}")
                       .replace("users: 20", f"users: {args.users}").replace("spawn_rate: 20", f"spawn_rate: {args.users}")
                       .replace("duration: 15s", f"duration: {seconds:g}s"))
        env = {**os.environ, "HARNESS_PROMETHEUS": "off"}
        out = Path(tmp) / "run"
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(exp), "--out", str(out), "--quiet"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        samples: list[dict[str, float | None]] = []
        begun = time.monotonic()
        while proc.poll() is None:
            locust = next((c for c in children(proc.pid) if "locust_process" in cmdline(c)), None)
            samples.append({"s": round(time.monotonic() - begun, 1), "harness_mb": rss_mb(proc.pid),
                            "locust_mb": rss_mb(locust) if locust else None})
            time.sleep(5.0)
        output = proc.stdout.read().decode() if proc.stdout else ""
        requests = 0
        try:
            from harness.data import read_requests

            requests = len(read_requests(out / "requests"))
            folder_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
        except Exception:  # noqa: BLE001 (report what we have)
            folder_mb = None
    per_minute = {}
    for m in range(1, int(args.minutes) + 1):
        upto = [s for s in samples if s["s"] <= m * 60 + 10]  # load starts a few seconds after the process
        if upto:
            per_minute[m] = upto[-1]
    first, last = per_minute.get(1), per_minute.get(int(args.minutes))
    doc = {"name": "rss_soak", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "minutes": args.minutes,
           "users": args.users, "requests": requests, "rate": round(requests / seconds, 1), "run_folder_mb": folder_mb,
           "harness_growth_mb_minute1_to_last": round(last["harness_mb"] - first["harness_mb"], 1)
           if first and last and first["harness_mb"] and last["harness_mb"] else None,
           "per_minute": per_minute, "samples": samples, "output_tail": output[-800:]}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "rss_soak.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k not in ("samples",)}, indent=2))


if __name__ == "__main__":
    main()
