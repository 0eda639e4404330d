"""Independent services start together: waves from the manifest's dependencies, launched then awaited."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.events import RunEvents
from harness.journal import JournalWriter
from harness.runtime.base import Deployment, DeployRequest
from harness.system import SystemSpec, load_system

ROOT = Path(__file__).resolve().parents[2]


def test_saga_starts_its_database_then_the_three_participants_together_then_the_orchestrator() -> None:
    assert load_system(ROOT / "targets/saga/system.yaml").start_waves() == [
        ["postgres"], ["inventory", "payments", "shipping"], ["orchestrator"]]


def test_an_edge_named_in_a_defect_is_a_dependency_too() -> None:
    system = SystemSpec.model_validate({
        "name": "s", "locustfile": "l.py", "entry": "front", "services": {
            "front": {"command": ["x"], "upstreams": [{"service": "back", "env": "B"}]},
            "back": {"command": ["x"], "upstreams": [{"service": "db", "env": "D"}]},
            "db": {"command": ["x"]},
            "other": {"command": ["x"]}},
        "defects": {"shared": {"env": {"other": {"DB": "{edges[back->db]}"}}}}})
    assert system.needs("other") == {"db"}
    assert system.start_waves() == [["db"], ["back", "other"], ["front"]]


class Launcher(Deployment):
    def __init__(self, req: DeployRequest):
        super().__init__(req)
        self.calls: list[str] = []

    def _start(self) -> None:
        self._start_services()

    def _teardown(self) -> None:
        pass

    def service_url(self, service: str) -> str:
        return f"http://fake/{service}"

    def _launch_service(self, name: str) -> Callable[[], None]:
        self.calls.append(f"launch {name}")

        def ready() -> None:
            self.calls.append(f"ready {name}")
            self._service_started(name, 0.01)
        return ready

    def _kill_service(self, name: str) -> None: ...
    def _stop_service(self, name: str) -> None: ...
    def _pause_service(self, name: str) -> None: ...
    def _resume_service(self, name: str) -> None: ...

    def _launched_services(self) -> list[str]:
        return []

    def _has_exited(self, name: str) -> bool:
        return False


def test_a_wave_is_launched_whole_before_any_of_it_is_awaited(tmp_path: Path) -> None:
    system = load_system(ROOT / "targets/saga/system.yaml")
    journal = JournalWriter(tmp_path / "journal.jsonl")
    dep = Launcher(DeployRequest(system=system, run_dir=tmp_path, journal=journal, events=RunEvents())).start()
    journal.close()
    assert dep.calls == ["launch postgres", "ready postgres",
                         "launch inventory", "launch payments", "launch shipping",
                         "ready inventory", "ready payments", "ready shipping",
                         "launch orchestrator", "ready orchestrator"]
    assert [r["service"] for r in journal.records if r["kind"] == "service_started"] == [
        "postgres", "inventory", "payments", "shipping", "orchestrator"]
