"""The Deployment base: service actions dispatched once for every runtime, crashes told from faults,
a half-started system torn down, stop idempotent."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.events import RunEvents
from harness.faults import ActiveFault
from harness.faults.tarpit import Tarpit
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


# -- what callers see of a service that is down ------------------------------------------------

class FakeToxiproxy:
    def __init__(self, calls: list[str]):
        self.calls = calls

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append(f"{'enable' if enabled else 'disable'} {name}")


class FakeTarpits(Tarpit):
    def __init__(self, calls: list[str]):
        super().__init__()
        self.calls = calls

    def hold(self, host: str, port: int) -> None:
        self.calls.append(f"hold {host}:{port}")

    def release(self, port: int) -> None:
        self.calls.append(f"release {port}")


class Wired(Recorder):
    """A Recorder whose edges are proxies at fake addresses, as a runtime with Toxiproxy has."""

    def __init__(self, req: DeployRequest, natural: str | None = None):
        super().__init__(req)
        self.toxiproxy = FakeToxiproxy(self.calls)  # type: ignore[assignment]
        self.tarpit = FakeTarpits(self.calls)
        self.natural = natural

    def _natural_cut(self):  # type: ignore[no-untyped-def]
        return self.natural

    def _tarpits(self) -> Tarpit:
        return self.tarpit

    def _proxy_address(self, edge: str) -> tuple[str, int]:
        return "127.0.0.1", 9000


def test_refuse_disables_the_edges_into_the_service_before_it_dies_and_after_it_is_back(req: DeployRequest) -> None:
    dep = Wired(req).start()
    dep.calls.clear()
    dep.service_action("b", "kill", "refuse")
    dep.service_action("b", "start", "refuse")
    assert dep.calls == ["disable a->b", "kill b", "start b", "enable a->b"]


def test_blackhole_also_holds_each_proxys_address_silent_until_the_service_is_healthy(req: DeployRequest) -> None:
    dep = Wired(req).start()
    dep.calls.clear()
    dep.service_action("b", "stop", "blackhole")
    dep.service_action("b", "start", "blackhole")
    assert dep.calls == ["disable a->b", "hold 127.0.0.1:9000", "stop b", "start b", "release 9000", "enable a->b"]


def test_without_a_mode_a_runtime_gives_its_own_and_the_journal_says_which(req: DeployRequest) -> None:
    dep = Wired(req).start()  # like local processes: a dead port refuses, nothing to do to the proxies
    dep.calls.clear()
    dep.service_action("b", "kill")
    dep.service_action("b", "start")
    assert dep.calls == ["kill b", "start b"]
    req.journal.close()
    kill = read_journal(req.journal.path).first("service_action")
    assert (kill["mode"], kill["natural"]) == ("refuse", True)


def test_a_runtime_whose_natural_death_is_a_black_hole_cuts_the_edges_itself(req: DeployRequest) -> None:
    dep = Wired(req, natural="blackhole").start()
    dep.calls.clear()
    dep.service_action("b", "restart")
    assert dep.calls == ["disable a->b", "hold 127.0.0.1:9000", "stop b", "start b", "release 9000", "enable a->b"]


def test_a_service_no_edge_leads_to_is_only_killed(req: DeployRequest) -> None:
    dep = Wired(req).start()
    dep.calls.clear()
    dep.service_action("a", "kill", "blackhole")
    dep.service_action("a", "start", "blackhole")
    assert dep.calls == ["kill a", "start a"]


def test_the_kill_fault_passes_its_mode_and_restart_false_leaves_the_edges_cut(req: DeployRequest) -> None:
    dep = Wired(req).start()
    dep.calls.clear()
    fault = ActiveFault.create("b-dead", "kill", "b", {"mode": "refuse", "restart": False})
    fault.kind.prepare(dep, fault)
    fault.kind.apply(dep, fault)
    fault.kind.remove(dep, fault)
    assert dep.calls == ["disable a->b", "kill b"]


def test_a_mode_that_is_neither_refuse_nor_blackhole_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match="'refuse' or 'blackhole'"):
        ActiveFault.create("b-dead", "kill", "b", {"mode": "hang"})
