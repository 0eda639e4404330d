"""A container that a fault took down, as the calling container sees it: directly (the real thing: a
dead address, where a connect hangs) and through its edge, where the harness renders the same black
hole (its natural death), or refuses with ``mode: refuse``; answering again once it is back."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caller_view import probe_source, write_system
from dockerkit import docker_ready  # noqa: F401  (fixture)
from harness.events import RunEvents
from harness.journal import JournalWriter
from harness.runtime import DeployRequest, runtimes
from harness.runtime.docker import layout
from harness.system import load_system

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture
def deployment(tmp_path: Path, docker_ready: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("HARNESS_PROMETHEUS_IMAGE", "none")
    journal = JournalWriter(tmp_path / "journal.jsonl")
    system = load_system(write_system(tmp_path))
    dep: Any = runtimes.get("docker")(DeployRequest(system=system, run_dir=tmp_path, journal=journal,
                                                    events=RunEvents()))
    try:
        yield dep
    finally:
        dep.stop()
        journal.close()


def seen_by_front(dep: Any, host: str, port: int, timeout: float = 1.0) -> str:
    proc = subprocess.run(["docker", "exec", dep.containers["front"].id, layout.PYTHON, "-c",
                           probe_source(host, port, timeout)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_killed_container_hangs_a_connect_directly_and_through_its_edge(deployment: Any) -> None:
    direct = (deployment.addresses["back"], layout.DEFAULT_PORT)
    edge = (deployment.addresses["toxiproxy"], layout.proxy_ports(deployment.system)["front->back"])
    assert seen_by_front(deployment, *direct) == seen_by_front(deployment, *edge) == "answered"
    deployment.prepare_death(None)
    deployment.service_action("back", "kill")
    assert seen_by_front(deployment, *direct) == "connect hangs"  # a dead container's address
    assert seen_by_front(deployment, *edge) == "connect hangs"  # the same through Toxiproxy
    deployment.service_action("back", "start")
    assert seen_by_front(deployment, *edge) == "answered"


@pytest.mark.parametrize(("mode", "seen"), [("refuse", "refused"), ("blackhole", "connect hangs")])
def test_a_mode_gives_the_same_as_in_local_processes(deployment: Any, mode: str, seen: str) -> None:
    edge = (deployment.addresses["toxiproxy"], layout.proxy_ports(deployment.system)["front->back"])
    deployment.prepare_death(mode)
    deployment.service_action("back", "stop", mode)
    assert seen_by_front(deployment, *edge) == seen
    deployment.service_action("back", "start", mode)
    assert seen_by_front(deployment, *edge) == "answered"
