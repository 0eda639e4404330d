"""The circuit-breaker experiment under --runtime docker: sound, defective, interrupted; nothing left behind.

Real containers (the targets image, a Toxiproxy image), real Locust on the host. About 55 s a run.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from harness.journal import read_journal

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]


def test_the_sound_system_passes_in_containers(run_experiment: Callable[..., Any], docker_ready: Any) -> None:
    run = run_experiment("experiments/circuit-breaker.yaml", None, "--runtime", "docker")
    assert run.code == 0, run.explain()
    assert run.result["runtime"] == "docker" and not run.failed
    history = read_journal(run.out / "journal.jsonl")
    started = {r["service"]: r for r in history.of_kind("service_started")}
    assert set(started) == {"payments", "orders"} and all(r["url"].startswith("http://127.0.0.1:") for r in started.values())
    proxy = history.first("proxy_created")
    assert proxy and proxy["upstream"] == f"{started['payments']['address']}:8000"  # the edge really goes via Toxiproxy
    states = [e["state"] for e in history.events if e.get("type") == "breaker_state"]
    assert "open" in states and states[-1] == "closed"
    assert "@harness-event" in (run.out / "logs" / "orders.log").read_text()  # read from the container's log
    assert "Started proxy" in (run.out / "logs" / "toxiproxy.log").read_text()
    prometheus = history.first("prometheus_started")  # make images builds harness/prometheus
    assert prometheus and prometheus["url"].startswith("http://127.0.0.1:"), history.first("prometheus_unavailable")
    assert {t["job"] for t in prometheus["targets"]} == {"toxiproxy", "payments", "orders"}
    assert history.first("prometheus_scraping") is None  # no check reads metrics: load did not wait for a scrape
    assert_nothing_left(run.out)


def test_the_breaker_disabled_defect_fails_in_containers(run_experiment: Callable[..., Any], docker_ready: Any) -> None:
    run = run_experiment("experiments/circuit-breaker.yaml", "breaker-disabled", "--runtime", "docker")
    assert run.code == 1, run.explain()
    assert {"breaker-opens", "fails-fast-while-open"} <= run.failed, run.explain()
    assert run.check("fails-fast-while-open")["evidence"]["value_ms"] > 300  # waited out the payments timeout
    assert_nothing_left(run.out)


def test_sigint_while_a_container_is_killed_removes_everything(tmp_path: Path, docker_ready: Any) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "experiments/circuit-breaker-payments-killed.yaml",
                             "--runtime", "docker", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        applied = False
        for line in proc.stdout:
            if "fault payments-killed applied" in line:
                applied = True
                break
            if time.monotonic() > deadline:
                break
        assert applied, "the kill was never applied"
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest
    history = read_journal(out / "journal.jsonl")
    assert history.requests, "what was recorded before the interrupt was lost"
    assert history.records[-1]["kind"] == "run_finished" and history.records[-1]["status"] == "interrupted"
    assert {r["fault"] for r in history.of_kind("fault_removed")} == {"payments-killed"}
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"
    assert_nothing_left(out)
