"""``harness ui`` for real: the CLI deploys the circuit-breaker system, Locust's own web UI runs in its own
process with the Chaos tab, a swarm starts through Locust's HTTP API, a latency fault on
orders->payments goes through the Chaos API on Locust's port into the real Toxiproxy (and opens the
breaker), is removed, and SIGTERM ends the session with the four files of a run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.net import free_port

ROOT = Path(__file__).resolve().parents[2]
EDGE = "orders->payments"
FOUR_FILES = ("journal.jsonl", "result.json", "junit.xml", "report.html")

pytestmark = pytest.mark.integration


def wait_for(what: str, probe: Any, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"harness ui exited ({proc.returncode}) while waiting for {what}")
        try:
            value = probe()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def journal(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines() if line.strip()]


def start_ui(run_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "harness.cli", "ui", "experiments/circuit-breaker.yaml", "--web-port", str(port),
           "--out", str(run_dir), "--quiet", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_a_session_applies_and_removes_a_fault_through_the_chaos_api_and_reports_like_a_run(tmp_path: Path) -> None:
    run_dir, port = tmp_path / "run", free_port()
    proc = start_ui(run_dir, port)
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15.0)
    try:
        page = wait_for("Locust's web UI", lambda: web.get("/").text, 90, proc)
        assert '"extended_tabs": [{"key": "chaos", "title": "Chaos"}]' in page and "/chaos-ui/chaos.js" in page
        toxiproxy = next(r["api"] for r in journal(run_dir) if r["kind"] == "toxiproxy_started")
        toxics_url = f"{toxiproxy}/proxies/{EDGE}/toxics"

        swarm = web.post("/swarm", data={"user_count": 16, "spawn_rate": 16, "host": ""}).json()
        assert swarm["success"], swarm
        wait_for("requests", lambda: web.get("/stats/requests").json()["stats"][-1]["num_requests"] > 30, 30, proc)

        bad = web.post("/chaos/faults", json={"type": "latency", "edge": "orders->nowhere", "attributes": {"latency": 800}})
        assert bad.status_code == 400 and "has no edge 'orders->nowhere'" in bad.json()["error"]
        assert httpx.get(toxics_url).json() == []

        applied = web.post("/chaos/faults", json={"name": "slow", "type": "latency", "edge": EDGE,
                                                  "attributes": {"latency": "800ms"}}, headers={"X-Chaos-Client": "test"})
        assert applied.status_code == 201, applied.text
        toxics = httpx.get(toxics_url).json()
        assert [(t["name"], t["type"], t["attributes"]["latency"]) for t in toxics] == [("slow", "latency", 800)]
        assert [f["name"] for f in web.get("/chaos/faults").json()] == ["slow"]
        since = applied.json()["applied_at"]
        opened = wait_for("the breaker to open", lambda: [e for e in web.get("/chaos/events", params={"since": since}).json()
                                                         if e.get("type") == "breaker_state" and e.get("state") == "open"],
                          15, proc)
        assert opened[0]["t"] > since
        feed = web.get("/stats/requests").json()["extended_stats"]
        assert feed[0]["key"] == "chaos" and any(row["what"] == "ACTIVE" for row in feed[0]["data"])

        assert web.delete("/chaos/faults/slow").status_code == 200
        assert httpx.get(toxics_url).json() == []
        web.get("/stop")
    finally:
        web.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode in (0, 1), output
    for name in FOUR_FILES:
        assert (run_dir / name).is_file(), f"{name} missing; output:\n{output}"
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "completed" and result["checks"], result
    records = journal(run_dir)
    kinds = [r["kind"] for r in records]
    for kind in ("load_started", "swarm_started", "fault_applied", "fault_removed", "session_ended", "toxiproxy_stopped"):
        assert kind in kinds, kind
    applied_rec = next(r for r in records if r["kind"] == "fault_applied")
    assert applied_rec["by"] == "test" and applied_rec["fault"] == "slow" and applied_rec["target"] == EDGE
    assert next(r for r in records if r["kind"] == "session_ended")["by"] == "SIGTERM"
    assert result["counts"]["requests"] > 30
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2.0)  # Locust's UI is gone


def test_the_stop_route_ends_the_session_and_another_web_host_warns(tmp_path: Path) -> None:
    """Stop from the tab (POST /chaos/stop) ends it like a signal; --web-host other than loopback warns."""
    run_dir, port = tmp_path / "run", free_port()
    proc = start_ui(run_dir, port, "--web-host", "127.0.0.2")  # still loopback, but not the default
    try:
        wait_for("Locust's web UI", lambda: httpx.get(f"http://127.0.0.2:{port}/chaos/system").json(), 90, proc)
        assert httpx.post(f"http://127.0.0.2:{port}/chaos/stop").status_code == 202
        output = proc.communicate(timeout=120)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "WARNING: --web-host 127.0.0.2" in output
    assert all((run_dir / name).is_file() for name in FOUR_FILES), output
    assert json.loads((run_dir / "result.json").read_text())["status"] == "completed"
    assert next(r for r in journal(run_dir) if r["kind"] == "session_ended")["by"] == "api"


def test_with_two_workers_every_request_is_stored_once_and_matches_locusts_total(tmp_path: Path) -> None:
    """``harness ui SYSTEM --workers 2``: Locust's UI is the master; each worker stores its own requests."""
    run_dir, port = tmp_path / "run", free_port()
    cmd = [sys.executable, "-m", "harness.cli", "ui", "circuit-breaker", "--web-port", str(port), "--out", str(run_dir),
           "--quiet", "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15.0)
    try:
        wait_for("Locust's web UI", lambda: web.get("/").text, 90, proc)
        assert web.post("/swarm", data={"user_count": 8, "spawn_rate": 8, "host": ""}).json()["success"]
        stats = wait_for("requests from both workers", lambda: (s := web.get("/stats/requests").json())["stats"][-1]["num_requests"] > 100
                         and s["workers"] and all(w["user_count"] > 0 for w in s["workers"]) and s, 90, proc)  # workers start slowly on a busy machine
        assert len(stats["workers"]) == 2
    finally:
        web.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode in (0, 1), output
    stored = {p.name for p in (run_dir / "requests").iterdir()}
    assert stored == {"locust.hreq", "locust-worker-1.hreq", "locust-worker-2.hreq"}
    stopped = next(r for r in journal(run_dir) if r["kind"] == "load_stopped")
    result = json.loads((run_dir / "result.json").read_text())
    assert result["counts"]["requests"] == stopped["locust_requests"] > 100, (result["counts"], stopped)
