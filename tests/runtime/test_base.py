"""The Deployment base: service actions dispatched once for every runtime, crashes told from faults,
a half-started system torn down, stop idempotent."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.events import RunEvents
from harness.journal import JournalWriter, read_journal
from harness.registry import UnknownEntry
from harness.runtime.base import Deployment, DeployRequest, service_actions
from harness.system import SystemSpec


class Recorder(Deployment):
    """A runtime whose services are names in a set: every primitive call is recorded."""

    def __init__(self, req: DeployRequest, fail_start: bool = False):
        super().__init__(req)
        self.calls: list[str] = []
        self.running: set[str] = set()
        self.fail_start = fail_start
        self.teardowns = 0

    def _start(self) -> None:
        for name in self.system.start_order():
            self._start_service(name)
        if self.fail_start:
            raise RuntimeError("half-way")

    def _teardown(self) -> None:
        self.teardowns += 1

    def service_url(self, service: str) -> str:
        return f"http://fake/{service}"

    def _start_service(self, name: str) -> None:
        self.calls.append(f"start {name}")
        self.running.add(name)
        self._service_started(name, 0.01)

    def _kill_service(self, name: str) -> None:
        self.calls.append(f"kill {name}")
        self.running.discard(name)

    def _stop_service(self, name: str) -> None:
        self.calls.append(f"stop {name}")
        self.running.discard(name)

    def _pause_service(self, name: str) -> None:
        self.calls.append(f"pause {name}")

    def _resume_service(self, name: str) -> None:
        self.calls.append(f"resume {name}")

    def _launched_services(self) -> list[str]:
        return list(self.system.services)

    def _has_exited(self, name: str) -> bool:
        return name not in self.running

    def _action_fields(self, service: str) -> dict[str, str]:
        return {"handle": f"h-{service}"}


@pytest.fixture
def req(tmp_path: Path) -> Iterator[DeployRequest]:
    system = SystemSpec.model_validate({"name": "s", "locustfile": "l.py", "entry": "a", "services": {
        "a": {"command": ["a"], "upstreams": [{"service": "b", "env": "B_URL"}]}, "b": {"command": ["b"]}}})
    journal = JournalWriter(tmp_path / "journal.jsonl")
    yield DeployRequest(system=system, run_dir=tmp_path, journal=journal, events=RunEvents())
    journal.close()


def test_actions_reach_the_runtimes_primitives_and_are_journalled(req: DeployRequest) -> None:
    dep = Recorder(req).start()
    dep.calls.clear()
    for action in ("pause", "resume", "kill", "start", "restart", "stop"):
        dep.service_action("b", action)
    assert dep.calls == ["pause b", "resume b", "kill b", "start b", "stop b", "start b", "stop b"]
    req.journal.close()
    records = list(read_journal(req.journal.path).of_kind("service_action"))
    assert [(r["action"], r["service"], r["handle"]) for r in records] == [
        (a, "b", "h-b") for a in ("pause", "resume", "kill", "start", "restart", "stop")]


def test_a_service_a_fault_took_down_is_not_a_crash_until_it_is_started_again(req: DeployRequest) -> None:
    dep = Recorder(req).start()
    dep.service_action("b", "kill")
    assert dep.check_alive() == []
    dep.service_action("b", "start")
    dep.running.discard("b")  # it dies on its own now
    assert dep.check_alive() == ["b"]


def test_an_unknown_action_names_the_known_ones(req: DeployRequest) -> None:
    dep = Recorder(req).start()
    with pytest.raises(UnknownEntry) as info:
        dep.service_action("b", "frezee")
    assert str(info.value) == ("unknown service action 'frezee'; known: kill, pause, restart, resume, start, stop")
    assert service_actions.names() == ["kill", "pause", "restart", "resume", "start", "stop"]


def test_a_half_started_deployment_tears_itself_down_and_stop_is_idempotent(req: DeployRequest) -> None:
    dep = Recorder(req, fail_start=True)
    with pytest.raises(RuntimeError, match="half-way"):
        dep.start()
    assert dep.teardowns == 1
    dep.stop()
    assert dep.teardowns == 1


def test_service_started_is_journalled_in_start_order_and_announced(req: DeployRequest) -> None:
    seen: list[str] = []
    req.events.service_started.add_listener(lambda service, url: seen.append(f"{service} {url}"))
    Recorder(req).start()
    assert seen == ["b http://fake/b", "a http://fake/a"]
