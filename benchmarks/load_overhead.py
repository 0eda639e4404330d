"""What the harness's load path costs: ``.venv/bin/python benchmarks/load_overhead.py``.

(a) Requests/s of the real runner (``run_experiment`` on ``hello/experiment.yaml``: Locust in a
    subprocess storing its requests as columns, this process running the run loop, then
    checks and reports) divided by requests/s of bare ``locust --headless ... --csv`` with the
    same locustfile and users, each against a fresh target process of its own. The two alternate
    (A B, B A, ...) so drift on a noisy machine hits both; the verdict is the median of the
    per-round ratios.
(b) The latency a Toxiproxy proxy with no toxic adds: N sequential keep-alive GETs straight to
    the target and N through the proxy, interleaved in blocks; median and p99 of each.
(c) The listener's own cost per request record, timed alone in a child process: explains (a)
    when the machine is too noisy for the ratio to say much.

Prints a JSON summary and writes it to ``benchmarks/results/<name>.json``. Scratch files
(Locust CSVs, logs, records) go to ``benchmarks/runs/`` (not versioned).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from harness.data import read_requests
from harness.experiment import load_experiment
from harness.net import free_port, wait_for_port
from harness.runner import RunOptions, run_experiment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = HERE / "hello_target.py"
LOCUSTFILE = HERE / "hello_locustfile.py"
TOXIPROXY_CANDIDATES = [ROOT / ".tools/bin/toxiproxy-server", ROOT / ".tools/bin/server"]


@contextmanager
def process(cmd: list[str], log: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=20.0)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- (a) load path --------------------------------------------------------------------------


def children_cpu() -> float:
    """CPU seconds of every child reaped so far: a run's delta is the Locust process's cost."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_bare(url: str, users: int, duration: float, workdir: Path) -> dict[str, float]:
    prefix = workdir / "bare"
    cmd = [
        str(Path(sys.executable).parent / "locust"), "--headless", "-f", str(LOCUSTFILE),
        "-u", str(users), "-r", str(users), "-t", f"{duration:g}s", "--host", url,
        "--exit-code-on-error", "0", "--csv", str(prefix),
    ]
    cpu0 = children_cpu()
    with (workdir / "bare.log").open("wb") as log:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=True,
                       timeout=duration + 60)
    cpu = children_cpu() - cpu0
    with open(f"{prefix}_stats.csv", newline="") as f:
        total = next(row for row in csv.DictReader(f) if row["Name"] == "Aggregated")
    count = int(total["Request Count"])
    # Locust's own rate: count / (last request's end - stats start). Its -t timer can fire early
    # (gevent's cached loop clock), so the nominal duration would understate it.
    rps = float(total["Requests/s"])
    return {"requests": count, "rps": round(rps, 1), "window_s": round(count / rps, 3),
            "locust_cpu_s": round(cpu, 2), "cpu_us_per_request": round(cpu / count * 1e6, 1)}


def run_harness(users: int, duration: float, workdir: Path) -> dict[str, float]:
    exp = load_experiment(HERE / "hello" / "experiment.yaml")
    exp.load.users, exp.load.spawn_rate, exp.load.duration = users, float(users), duration
    cpu0, self0 = children_cpu(), self_cpu()
    # No Prometheus: the hello target exports no metrics, and its scraper would only add CPU noise.
    os.environ["HARNESS_PROMETHEUS"] = "off"
    result = run_experiment(exp, RunOptions(out=workdir / "run"))
    cpu, harness_cpu = children_cpu() - cpu0, self_cpu() - self0
    if result.status != "completed":
        raise SystemExit(f"the harness run ended {result.status}: {result.error}")
    requests = read_requests(workdir / "run" / "requests")
    load_started = next(json.loads(line) for line in (workdir / "run" / "journal.jsonl").read_text().splitlines()
                        if '"load_started"' in line)
    # The same window as Locust's own rate: from the start to the end of the last request.
    window = float((requests.t + requests.ms / 1000).max()) - load_started["t"]
    n = len(requests)
    # children_cpu counts every child reaped: Locust, the target, Toxiproxy.
    return {"requests": n, "rps": round(n / window, 1), "window_s": round(window, 3),
            "children_cpu_s": round(cpu, 2), "harness_process_cpu_s": round(harness_cpu, 2)}


def measure_load(url: str, users: int, duration: float, rounds: int, runs: Path) -> dict[str, object]:
    bare: list[dict[str, float]] = []
    harness: list[dict[str, float]] = []
    for i in range(rounds):
        order = ("bare", "harness") if i % 2 == 0 else ("harness", "bare")
        for kind in order:
            workdir = runs / f"round{i + 1}-{kind}"
            workdir.mkdir(parents=True)
            if kind == "bare":
                port = free_port()
                with process([sys.executable, str(TARGET), str(port)], workdir / "target.log", port):
                    bare.append(run_bare(f"http://127.0.0.1:{port}", users, duration, workdir))
            else:
                harness.append(run_harness(users, duration, workdir))
            print(f"round {i + 1} {kind}: {(bare if kind == 'bare' else harness)[-1]}", file=sys.stderr)
            time.sleep(2.0)  # let the target's connections close between runs
    ratios = [h["rps"] / b["rps"] for h, b in zip(harness, bare)]
    return {
        "users": users, "duration_s": duration, "rounds": rounds,
        "bare": bare, "harness": harness,
        "bare_rps_median": round(statistics.median(b["rps"] for b in bare), 1),
        "harness_rps_median": round(statistics.median(h["rps"] for h in harness), 1),
        "ratios": [round(r, 3) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
    }


# What one request record costs the Locust process, without a network: the listener alone.
# In a child process: importing locust_process patches the whole process for gevent.
_RECORD_COST = """
import sys, time
from pathlib import Path
from harness.load.locust_process import RecordWriter

class Answer:
    status_code = 200

writer, answer, n = RecordWriter(Path(sys.argv[1])), Answer(), int(sys.argv[2])
begun = time.perf_counter()
for _ in range(n):
    writer.on_request(request_type="GET", name="/", response_time=6.123456789, response_length=5,
                      response=answer, exception=None, start_time=time.time(), context={}, url="http://x/")
writer.close()
print((time.perf_counter() - begun) / n * 1e6)
"""


def measure_record_cost(runs: Path, n: int = 200_000, repeats: int = 3) -> dict[str, object]:
    samples = []
    for i in range(repeats):
        out = subprocess.run([sys.executable, "-c", _RECORD_COST, str(runs / f"cost{i}.hreq"), str(n)],
                             capture_output=True, text=True, check=True, timeout=120)
        samples.append(float(out.stdout))
        (runs / f"cost{i}.hreq").unlink()
    return {"records": n, "us_per_record": [round(x, 2) for x in samples],
            "median_us_per_record": round(statistics.median(samples), 2)}


# --- (b) Toxiproxy --------------------------------------------------------------------------


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    k = max(0, min(len(sorted_ms) - 1, int(round(q / 100 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[k]


def summarize(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {"n": len(s), "median_ms": round(statistics.median(s), 4), "p99_ms": round(percentile(s, 99), 4),
            "mean_ms": round(statistics.fmean(s), 4)}


def timed_gets(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        begun = time.perf_counter()
        client.get(url).raise_for_status()
        out.append((time.perf_counter() - begun) * 1000)
    return out


def measure_toxiproxy(target_port: int, n: int, block: int, runs: Path) -> dict[str, object]:
    binary = next((p for p in TOXIPROXY_CANDIDATES if p.exists()), None)
    if binary is None:
        raise SystemExit(f"no Toxiproxy server binary at {' or '.join(map(str, TOXIPROXY_CANDIDATES))}")
    api_port, listen_port = free_port(), free_port()
    cmd = [str(binary), "-host", "127.0.0.1", "-port", str(api_port)]
    with process(cmd, runs / "toxiproxy.log", api_port):
        created = httpx.post(
            f"http://127.0.0.1:{api_port}/proxies", timeout=10.0,
            json={"name": "bench", "listen": f"127.0.0.1:{listen_port}",
                  "upstream": f"127.0.0.1:{target_port}", "enabled": True},
        )
        if created.status_code != 201:
            raise SystemExit(f"Toxiproxy POST /proxies answered {created.status_code}: {created.text}")
        direct_url, proxied_url = f"http://127.0.0.1:{target_port}/", f"http://127.0.0.1:{listen_port}/"
        direct: list[float] = []
        proxied: list[float] = []
        with httpx.Client(timeout=10.0) as d, httpx.Client(timeout=10.0) as p:
            timed_gets(d, direct_url, 200)  # warm-up: connections, caches
            timed_gets(p, proxied_url, 200)
            for i in range(n // block):
                pairs = [(d, direct_url, direct), (p, proxied_url, proxied)]
                for client, url, sink in pairs if i % 2 == 0 else pairs[::-1]:
                    sink += timed_gets(client, url, block)
    version = subprocess.run([str(binary), "-version"], capture_output=True, text=True).stdout.strip()
    d_sum, p_sum = summarize(direct), summarize(proxied)
    return {
        "binary": str(binary.relative_to(ROOT)), "version": version, "client": f"httpx {httpx.__version__}, keep-alive",
        "direct": d_sum, "proxied": p_sum,
        "added_median_ms": round(p_sum["median_ms"] - d_sum["median_ms"], 4),
        "added_p99_ms": round(p_sum["p99_ms"] - d_sum["p99_ms"], 4),
    }


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", default="load_overhead")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--requests", type=int, default=4000, help="sequential requests per path for (b)")
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-toxiproxy", action="store_true")
    args = ap.parse_args()

    stamp = dt.datetime.now(dt.timezone.utc)
    runs = HERE / "runs" / f"{args.name}-{stamp:%Y%m%dT%H%M%SZ}"
    runs.mkdir(parents=True)
    summary: dict[str, object] = {
        "name": args.name,
        "date": stamp.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "locust": importlib.metadata.version("locust"), "uvicorn": importlib.metadata.version("uvicorn")},
    }
    port = free_port()
    with process([sys.executable, str(TARGET), str(port)], runs / "target.log", port):
        url = f"http://127.0.0.1:{port}"
        if not args.skip_load:
            summary["load"] = measure_load(url, args.users, args.duration, args.rounds, runs)
            summary["record_cost"] = measure_record_cost(runs)
        if not args.skip_toxiproxy:
            summary["toxiproxy"] = measure_toxiproxy(port, args.requests, args.block, runs)
    text = json.dumps(summary, indent=2)
    print(text)
    out = HERE / "results" / f"{args.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
