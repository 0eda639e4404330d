"""The story of a run, told with a fake deployment, a fake load and a fake clock (milliseconds each):
phases in order, faults at their planned offsets, a defect caught by the check that watches the fault,
the steady-state gate, a process fault through the runtime, healing in ``finally``, statuses and exit
codes. (tests/test_runner.py drives endings with real signals; the 45-second real experiments under
tests/integration show what only a real run can.)"""
from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fake_run import Behaviour, FakeClock, FakeDeployment, FakeLoad, journal_of, sound, write_system
from harness.errors import EnvironmentProblem, InputError
from harness.events import RunEvents
from harness.experiment import load_experiment
from harness.result import RunResult
from harness.runner import RunOptions, run_experiment
from harness.runtime.base import Deployment, DeployRequest, runtimes

RUNTIME = "story-fake"

EXPERIMENT = """\
name: story
system: system.yaml
seed: 7
load: {users: 1, duration: 30s}
faults:
  - {name: slow, type: latency, edge: front->back, attributes: {latency: 1s}, start: 8s, duration: 12s}
steady_state:
  warmup: 1s
  settle: 2s
  conditions:
    - {type: error_rate, max: 0.01}
checks:
  - {name: errors-during-fault, type: error_rate, window: {during: slow}, max: 0.05}
"""

KILL = """\
name: story
system: system.yaml
load: {users: 1, duration: 30s}
faults:
  - {name: crash, type: kill, service: back, start: 8s, duration: 5s}
checks:
  - {name: errors, type: error_rate, max: 0.05}
"""


def degraded_by_the_fault(_offset: float, dep: FakeDeployment) -> tuple[float, str]:
    """A defective system: every request fails while a toxic sits on its edge."""
    return (900.0, "fail") if dep.toxiproxy.toxics else (5.0, "ok")  # type: ignore[attr-defined]


def unhealthy(offset: float, _dep: FakeDeployment) -> tuple[float, str]:
    """Broken before any fault: one request in four fails."""
    return 5.0, ("fail" if int(offset * 20) % 4 == 0 else "ok")


@dataclass
class Story:
    """One run through ``run_experiment`` with fakes; what each part saw is kept for the asserts."""

    tmp: Path
    clock: FakeClock
    behaviour: Behaviour = sound
    crash: dict[str, float] = field(default_factory=dict)
    load_options: dict[str, Any] = field(default_factory=dict)
    runtime_error: Exception | None = None
    deployment: FakeDeployment | None = None
    load: FakeLoad | None = None
    events: list[str] = field(default_factory=list)

    def deploy(self, req: DeployRequest) -> Deployment:
        if self.runtime_error is not None:
            raise self.runtime_error
        self.deployment = FakeDeployment(req, self.clock, crash={s: self.clock.time() + at for s, at in self.crash.items()})
        return self.deployment.start()

    def make_load(self, *, out_dir: Path, duration: float, **_: Any) -> FakeLoad:
        self.load = FakeLoad(self.clock, lambda: self.deployed, out_dir, duration, self.behaviour, **self.load_options)
        return self.load

    @property
    def deployed(self) -> FakeDeployment:
        assert self.deployment is not None
        return self.deployment

    def run(self, experiment: str = EXPERIMENT, **options: Any) -> RunResult:
        write_system(self.tmp)
        path = self.tmp / "exp.yaml"
        path.write_text(textwrap.dedent(experiment))
        events = RunEvents()
        events.phase_changed.add_listener(lambda phase: self.events.append(f"phase {phase}"))
        events.fault_applied.add_listener(lambda fault, at_s, **_: self.events.append(f"applied {fault} at {at_s:.2f}"))
        events.fault_removed.add_listener(lambda fault, at_s: self.events.append(f"removed {fault} at {at_s:.2f}"))
        return run_experiment(load_experiment(path), RunOptions(runtime=RUNTIME, out=self.tmp / "run", events=events,
                                                                load=self.make_load, **options))

    def journal(self) -> list[dict[str, Any]]:
        return journal_of(self.tmp / "run")

    def kinds(self, *wanted: str) -> list[str]:
        return [r["kind"] for r in self.journal() if r["kind"] in wanted]


_current: list[Story] = []


def _deploy(req: DeployRequest) -> Deployment:
    return _current[-1].deploy(req)


runtimes.register(RUNTIME, _deploy)


@pytest.fixture
def story(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Story]:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))  # this run's process registry, not the machine's
    clock = FakeClock()
    clock.install(monkeypatch)
    _current.append(Story(tmp_path, clock))
    yield _current[-1]
    _current.pop()


def fault_offsets(story: Story) -> dict[str, float]:
    journal = story.journal()
    t0 = next(r["t"] for r in journal if r["kind"] == "load_started")
    return {r["kind"]: round(r["t"] - t0, 2) for r in journal if r["kind"] in ("fault_applied", "fault_removed")}


def test_a_sound_run_goes_through_its_phases_in_order_and_passes(story: Story) -> None:
    result = story.run()
    assert (result.status, result.verdict, result.exit_code) == ("completed", "passed", 0)
    assert story.events == ["phase setup", "phase load", "applied slow at 8.00", "removed slow at 20.00",
                            "phase teardown", "phase checks", "phase reports"]
    assert story.kinds("run_started", "phase", "service_started", "load_started", "fault_applied", "fault_removed",
                       "load_stopped", "run_finished") == [
        "run_started", "phase", "service_started", "service_started", "phase", "load_started", "fault_applied",
        "fault_removed", "phase", "load_stopped", "phase", "run_finished"]  # load_stopped is read once load has ended
    assert [r["phase"] for r in story.journal() if r["kind"] == "phase"] == ["setup", "load", "teardown", "checks"]
    assert [r["service"] for r in story.journal() if r["kind"] == "service_started"] == ["back", "front"]
    assert story.deployed.toxiproxy.calls == ["add latency slow on front->back", "remove slow on front->back"]  # type: ignore[attr-defined]
    assert [(c.name, c.verdict) for c in result.checks] == [
        ("steady-state before: error-rate", "passed"), ("steady-state after: error-rate", "passed"),
        ("errors-during-fault", "passed")]
    assert result.counts["requests"] == 600  # 20 a second for 30 s of fake time
    for name in ("report.html", "result.json", "junit.xml", "journal.jsonl"):
        assert (story.tmp / "run" / name).is_file()
    assert json.loads((story.tmp / "run" / "result.json").read_text())["exit_code"] == 0


def test_faults_take_effect_at_their_planned_offsets_and_the_journal_says_when(story: Story) -> None:
    story.run()
    assert fault_offsets(story) == {"fault_applied": 8.0, "fault_removed": 20.0}
    [applied] = [r for r in story.journal() if r["kind"] == "fault_applied"]
    assert (applied["fault"], applied["type"], applied["target"], applied["planned_s"]) == ("slow", "latency", "front->back", 8.0)


def test_a_defective_system_fails_the_check_that_watches_the_fault(story: Story) -> None:
    story.behaviour = degraded_by_the_fault
    result = story.run()
    assert (result.status, result.verdict, result.exit_code) == ("completed", "failed", 1)
    [check] = [c for c in result.checks if c.name == "errors-during-fault"]
    assert check.verdict == "failed"
    # The request sent at the very moment the fault was applied still went through.
    assert check.summary == "error rate 99.58% over 240 requests in 'during slow' (max 5.00%)"
    steady = [c.verdict for c in result.checks if c.name.startswith("steady-state")]
    assert steady == ["passed", "passed"]  # the system is fine outside the fault: the check caught the right thing


def test_a_system_off_its_steady_state_is_never_faulted(story: Story) -> None:
    story.behaviour = unhealthy
    result = story.run()
    assert (result.status, result.verdict, result.exit_code) == ("aborted", "failed", 1)
    assert story.kinds("fault_applied", "fault_removed") == []
    assert story.deployed.toxiproxy.calls == []  # type: ignore[attr-defined]
    [probe] = [r for r in story.journal() if r["kind"] == "probe"]
    assert probe["verdict"] == "failed" and probe["summary"].startswith("error rate 25.")
    assert story.load is not None and story.load.stopped and story.deployed.stopped
    # The gate came at the first fault's start: load did not run its 30 s.
    assert story.load.requests == 160


def test_a_process_fault_acts_through_the_runtime_and_is_not_mistaken_for_a_crash(story: Story) -> None:
    result = story.run(KILL)
    assert result.status == "completed"
    assert story.deployed.actions == ["start back", "start front", "kill back", "start back"]
    assert [(r["service"], r["action"]) for r in story.journal() if r["kind"] == "service_action"] == [
        ("back", "kill"), ("back", "start")]
    assert fault_offsets(story) == {"fault_applied": 8.0, "fault_removed": 13.0}
    assert story.kinds("service_crashed") == []


def test_a_service_that_dies_on_its_own_ends_the_run_and_the_fault_is_still_removed(story: Story) -> None:
    story.crash = {"back": 12.0}
    result = story.run()
    assert (result.status, result.exit_code) == ("aborted", 1)
    assert "service(s) back exited on their own during the run" in (result.error or "")
    assert story.kinds("fault_applied", "service_crashed", "fault_removed", "run_finished") == [
        "fault_applied", "service_crashed", "fault_removed", "run_finished"]
    assert story.deployed.toxiproxy.toxics == {}  # type: ignore[attr-defined]
    assert story.load is not None and story.load.stopped and story.deployed.stopped


def test_a_load_generator_that_dies_is_an_environment_error_and_faults_are_healed(story: Story) -> None:
    story.load_options = {"exits_at": 12.0, "exit_code": 1}
    result = story.run()
    assert (result.status, result.verdict, result.exit_code) == ("error", "unknown", 3)
    assert "the load generator exited with code 1" in (result.error or "")
    assert "fake load: the locustfile raised" in (result.error or "")
    assert story.deployed.toxiproxy.calls[-1] == "remove slow on front->back"  # type: ignore[attr-defined]
    assert story.deployed.stopped


def test_an_interrupt_during_a_fault_heals_it_stops_everything_and_exits_130(story: Story) -> None:
    story.load_options = {"interrupt_at": 12.0}
    result = story.run()
    assert (result.status, result.exit_code) == ("interrupted", 130)
    assert fault_offsets(story)["fault_removed"] == pytest.approx(12.0, abs=0.06)
    assert story.deployed.toxiproxy.toxics == {} and story.deployed.stopped  # type: ignore[attr-defined]
    assert story.load is not None and story.load.stopped
    [finished] = [r for r in story.journal() if r["kind"] == "run_finished"]
    assert finished["status"] == "interrupted" and finished["error"] == "interrupted by SIGINT"


def test_a_runtime_that_cannot_start_is_an_environment_error_and_no_load_runs(story: Story) -> None:
    story.runtime_error = EnvironmentProblem("toxiproxy-server not found", hint="run `make tools`")
    result = story.run()
    assert (result.status, result.exit_code) == ("error", 3)
    assert story.load is None
    assert [r.get("phase", r["kind"]) for r in story.journal() if r["kind"] in ("phase", "run_finished")] == [
        "setup", "teardown", "checks", "run_finished"]
    assert "hint: run `make tools`" in (result.error or "")


def test_an_unknown_defect_is_an_input_error_before_anything_starts(story: Story) -> None:
    with pytest.raises(InputError, match="system 'fake' has no defect 'nope'; defects: none"):
        story.run(defect="nope")
    assert story.deployment is None and not (story.tmp / "run").exists()
