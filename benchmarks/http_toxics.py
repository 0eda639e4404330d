"""Our toxiproxy-server (toxiproxy/, with HTTP toxics) against the stock one:
``.venv/bin/python benchmarks/http_toxics.py`` (about 2 minutes).

(a) Added latency with no toxic: sequential keep-alive GETs (httpx) straight to an upstream,
    through a stock toxiproxy-server v2.12.0 proxy, through ours, and through ours with an
    ``http_status`` toxic at probability 0 (every request framed and passed: the parser's cost).
    The four alternate in blocks after a warm-up; the verdict is ours / stock, median to median,
    in the same run.
(b) Share of requests faulted against the configured toxicity: N (10,000) keep-alive requests
    through ``http_status`` at each toxicity; the share the client saw answered 503, the
    server's own count, and the difference in points (the aim: within +-2).

The upstream is nginx (Debian's package) answering "ok" from memory, so its own time stays
small and steady; without nginx, benchmarks/hello_target.py (uvicorn). The stock server is a
``toxiproxy-server`` on PATH that is not ours, else one built with ``go install`` into
``benchmarks/runs/``. While measuring it holds one of the machine-wide experiment slots
(tests/slots.py), so test suites on the same machine queue instead of skewing the numbers.
Prints a JSON summary and writes it to ``benchmarks/results/http_toxics.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx

from harness.faults import ToxiproxyClient, ToxiproxyServer
from harness.faults.capabilities import binary_version, has_http_toxics
from harness.faults.http_toxics import read_traffic
from harness.net import free_port, wait_for_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNS = HERE / "runs"
OURS = ROOT / ".tools/bin/toxiproxy-server"

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir}; uwsgi_temp_path {dir}; scgi_temp_path {dir};
  keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok\\n"; }} }}
}}
"""


@contextmanager
def upstream() -> Iterator[str]:
    """nginx answering 200 "ok" from memory, else the uvicorn hello target."""
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix="http-toxics-bench-"))
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if nginx:
        (scratch / "nginx.conf").write_text(NGINX_CONF.format(dir=scratch, port=port))
        cmd = [nginx, "-c", str(scratch / "nginx.conf"), "-p", str(scratch)]
    else:
        cmd = [sys.executable, str(HERE / "hello_target.py"), str(port)]
    with (scratch / "upstream.log").open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=20.0)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)


def stock_binary() -> Path:
    found = shutil.which("toxiproxy-server")
    if found and binary_version(Path(found)) and not has_http_toxics(binary_version(Path(found))):
        return Path(found)
    built = RUNS / "stock-bin" / "server"
    if not built.exists():
        built.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "install", "-ldflags", "-X github.com/Shopify/toxiproxy/v2.Version=2.12.0",
                        "github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0"],
                       env={**os.environ, "GOBIN": str(built.parent)}, check=True, timeout=600)
    return built


def summarize(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {"n": len(s), "median_ms": round(statistics.median(s), 4),
            "p99_ms": round(s[min(len(s) - 1, int(0.99 * len(s)))], 4), "mean_ms": round(statistics.fmean(s), 4)}


def timed_gets(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        begun = time.perf_counter()
        client.get(url).raise_for_status()
        out.append((time.perf_counter() - begun) * 1000)
    return out


def measure_latency(paths: dict[str, str], requests: int, block: int) -> dict[str, Any]:
    clients = {name: httpx.Client(trust_env=False, timeout=10) for name in paths}
    samples: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for name, url in paths.items():
            timed_gets(clients[name], url, 300)  # warm-up: connections, caches
        order = list(paths)
        for i in range(requests // block):
            for name in order if i % 2 == 0 else reversed(order):
                samples[name] += timed_gets(clients[name], paths[name], block)
    finally:
        for c in clients.values():
            c.close()
    out: dict[str, Any] = {name: summarize(ms) for name, ms in samples.items()}
    direct = out["direct"]["median_ms"]
    for name in paths:
        if name != "direct":
            out[name]["added_median_ms"] = round(out[name]["median_ms"] - direct, 4)
    out["ratio_ours_to_stock_median"] = round(out["ours"]["median_ms"] / out["stock"]["median_ms"], 3)
    out["ratio_added_ours_to_stock"] = round(out["ours"]["added_median_ms"] / out["stock"]["added_median_ms"], 3)
    out["ratio_framing_to_ours_median"] = round(out["ours+http_status p=0"]["median_ms"] / out["ours"]["median_ms"], 3)
    return out


def measure_share(client: ToxiproxyClient, proxy: str, listen: str, toxicity: float, n: int) -> dict[str, Any]:
    name = f"share-{int(toxicity * 100)}"
    client.add_toxic(proxy, name, "http_status", {"status": 503, "probability": toxicity}, stream="upstream")
    answered = 0
    try:
        with httpx.Client(base_url=f"http://{listen}", trust_env=False, timeout=10) as http:
            for _ in range(n):
                status = http.get("/").status_code
                answered += status == 503
    finally:
        client.remove_toxic(proxy, name)
    seen = read_traffic(client.metrics(), proxy, name)
    share = answered / n
    return {"toxicity": toxicity, "requests": n, "answered_503": answered, "share": round(share, 4),
            "off_by_points": round((share - toxicity) * 100, 2), "server_counted": seen,
            "within_2_points": abs(share - toxicity) <= 0.02}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=6000, help="(a) GETs per path")
    ap.add_argument("--block", type=int, default=200, help="(a) GETs per path before switching")
    ap.add_argument("--share-requests", type=int, default=10_000, help="(b) requests per toxicity")
    ap.add_argument("--toxicities", default="0.1,0.3,0.5")
    ap.add_argument("--no-slot", action="store_true", help="do not wait for a machine-wide experiment slot")
    args = ap.parse_args()
    RUNS.mkdir(exist_ok=True)
    if not (OURS.exists() and has_http_toxics(binary_version(OURS))):
        raise SystemExit(f"{OURS} is not our server: run `make tools`")
    stock = stock_binary()
    sys.path.insert(0, str(ROOT / "tests"))
    from slots import experiment_slot

    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": os.getloadavg()},
        "servers": {"stock": f"{stock} ({binary_version(stock)})", "ours": f"{OURS} ({binary_version(OURS)})"},
    }
    with (nullcontext() if args.no_slot else experiment_slot()), upstream() as target, \
            ToxiproxyServer(RUNS / "stock.log", binary=stock) as stock_server, \
            ToxiproxyServer(RUNS / "ours.log", binary=OURS) as ours_server:
        result["upstream"] = "nginx" if shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK) else "uvicorn"
        paths = {"direct": f"http://{target}/"}
        for label, server in (("stock", stock_server), ("ours", ours_server), ("ours+http_status p=0", ours_server)):
            p = server.client.create_proxy(label.replace(" ", "_").replace("=", ""), f"127.0.0.1:{free_port()}", target)
            paths[label] = f"http://{p.listen}/"
            if "http_status" in label:
                server.client.add_toxic(p.name, "framing-only", "http_status", {"status": 503, "probability": 0.0},
                                        stream="upstream")
        result["latency"] = measure_latency(paths, args.requests, args.block)
        print(json.dumps(result["latency"], indent=2), file=sys.stderr)
        share_proxy = ours_server.client.create_proxy("share", f"127.0.0.1:{free_port()}", target)
        result["share"] = [measure_share(ours_server.client, share_proxy.name, share_proxy.listen, float(t),
                                         args.share_requests) for t in args.toxicities.split(",")]
    result["machine"]["load_average_after"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    (HERE / "results" / "http_toxics.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
