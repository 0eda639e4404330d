"""Container faults through the Deployment surface: pause/resume, stop/start, restart, and a crash
nobody asked for, which check_alive reports."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from harness.events import RunEvents
from harness.journal import JournalWriter, read_journal
from harness.runtime import DeployRequest, runtimes
from harness.system import load_system

pytestmark = [pytest.mark.integration, pytest.mark.docker]

REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout these tests are in


def healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_container_actions_do_what_the_process_faults_expect(tmp_path: Path, docker_ready: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_PROMETHEUS_IMAGE", "none")
    journal = JournalWriter(tmp_path / "journal.jsonl")
    system = load_system(REPO_ROOT / "targets" / "circuit-breaker" / "system.yaml")
    dep: Any = runtimes.get("docker")(DeployRequest(system=system, run_dir=tmp_path, journal=journal, events=RunEvents()))
    try:
        url = dep.service_url("payments")
        dep.service_action("payments", "pause")
        assert dep.containers["payments"].attrs and not healthy(url)  # frozen: the connection is held, no answer
        dep.containers["payments"].reload()
        assert dep.containers["payments"].status == "paused"
        dep.service_action("payments", "resume")
        assert healthy(url)

        dep.service_action("payments", "stop")
        assert not healthy(url) and dep.check_alive() == []  # asked for: not a crash
        dep.service_action("payments", "start")
        assert healthy(url)

        dep.service_action("payments", "restart")
        assert healthy(url)

        docker_ready.containers.get(dep.containers["payments"].id).kill()  # behind the harness's back
        deadline = time.monotonic() + 15
        while dep.check_alive() != ["payments"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert dep.check_alive() == ["payments"]
    finally:
        dep.stop()
        journal.close()
    history = read_journal(tmp_path / "journal.jsonl")
    assert [r["action"] for r in history.of_kind("service_action")] == ["pause", "resume", "stop", "start", "restart"]
    started = [r for r in history.of_kind("service_started") if r["service"] == "payments"]
    assert len(started) == 3 and len({r["address"] for r in started}) == 1
    assert history.first("prometheus_unavailable")["reason"].startswith("Prometheus is turned off")
    assert_nothing_left(tmp_path)
