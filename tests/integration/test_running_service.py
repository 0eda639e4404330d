"""A system with a service the harness did not start, and a fault on the load path.

The test starts Debian's ``redis-server`` itself; the manifest declares it with ``address:`` and a
TCP health check. The harness starts the counter app (which calls Redis through the edge
``app->cache``) and interposes Toxiproxy on ``load->app`` because a fault names that edge. Locust
reaches Redis directly as ``redis://`` (its manifest's ``url:``). The fault on the load path must
show in the clients' latency (``min_increase``), not in the Redis PINGs, and Redis must still be
running, untouched, after the run. About 20 s.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.journal import read_journal
from harness.net import free_port

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent / "realsys"
ROOT = Path(__file__).resolve().parents[2]

SYSTEM = """\
name: counter
locustfile: locustfile.py
entry: app
services:
  cache:
    address: 127.0.0.1:{port}
    url: "redis://{{host}}:{{port}}/0"
    health: {{type: tcp, timeout: 10s}}
  app:
    command: ["{{python}}", "counter_app.py"]
    upstreams:
      - {{service: cache, env: CACHE_URL, url: "redis://{{host}}:{{port}}/0"}}
"""

EXPERIMENT = """\
name: load-path-slow
system: system.yaml
load: {users: 4, spawn_rate: 4, duration: 14s, user_classes: [AppUser, CacheUser]}
faults:
  - {name: clients-slow, type: latency, edge: load->app, attributes: {latency: 150ms}, start: 6s, duration: 5s}
steady_state:
  warmup: 2s
  settle: 1s
  conditions:
    - {type: error_rate, max: 0.01}
checks:
  - name: the-load-path-fault-bit
    type: latency
    requests: {name: GET /hit}
    window: {during: clients-slow, skip: 1s}
    percentile: 50
    min_increase: 100ms
  - name: redis-pings-untouched
    type: latency
    requests: {name: PING}
    window: {during: clients-slow, skip: 1s}
    percentile: 50
    max_increase: 30ms
  - name: counter-works
    type: error_rate
    requests: {name: GET /hit}
    max: 0.01
"""


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
        assert proc.poll() is None, "the harness must not stop a service it did not start"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_system(tmp_path: Path, port: int, experiment: str = EXPERIMENT) -> Path:
    for name in ("counter_app.py", "locustfile.py"):
        shutil.copy(HERE / name, tmp_path / name)
    (tmp_path / "system.yaml").write_text(SYSTEM.format(port=port))
    path = tmp_path / "experiment.yaml"
    path.write_text(experiment)
    return path


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)


def test_a_running_service_and_a_fault_on_the_load_path(tmp_path: Path, redis: int) -> None:
    experiment = write_system(tmp_path, redis)
    out = tmp_path / "run"
    proc = harness("run", str(experiment), "--out", str(out), "--quiet")
    result = json.loads((out / "result.json").read_text())
    explain = "\n".join(f"{c['verdict']} {c['name']}: {c['summary']}" for c in result["checks"]) + proc.stderr[-2000:]
    assert proc.returncode == 0, explain
    journal = read_journal(out / "journal.jsonl")
    started = {r["service"]: r for r in journal.records if r["kind"] == "service_started"}
    assert started["cache"]["external"] is True and started["cache"]["address"] == f"127.0.0.1:{redis}"
    proxies = {r["edge"]: r["upstream"] for r in journal.records if r["kind"] == "proxy_created"}
    assert proxies["app->cache"] == f"127.0.0.1:{redis}" and "load->app" in proxies and "load->cache" not in proxies
    assert any(r["kind"] == "unfaultable" and "'cache'" in r["what"] for r in journal.records)
    assert not any(r["kind"] == "service_stopped" and r["service"] == "cache" for r in journal.records)
    # The load-path fault really delayed the clients: the evidence carries both windows' medians.
    bit = next(c for c in result["checks"] if c["name"] == "the-load-path-fault-bit")
    assert bit["evidence"]["value_ms"] - bit["evidence"]["baseline_value_ms"] >= 100


def test_without_the_fault_the_same_check_fails(tmp_path: Path, redis: int) -> None:
    """The min_increase check is not a tautology: with the fault on another edge, clients are not slowed."""
    experiment = write_system(tmp_path, redis, EXPERIMENT.replace("edge: load->app", "edge: app->cache")
                              .replace("latency: 150ms", "latency: 1ms"))
    out = tmp_path / "run"
    proc = harness("run", str(experiment), "--out", str(out), "--quiet")
    result = json.loads((out / "result.json").read_text())
    assert proc.returncode == 1
    verdicts = {c["name"]: c["verdict"] for c in result["checks"]}
    assert verdicts["the-load-path-fault-bit"] == "failed", verdicts
    journal = read_journal(out / "journal.jsonl")
    assert "load->app" not in {r["edge"] for r in journal.records if r["kind"] == "proxy_created"}
