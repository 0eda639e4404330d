"""The run's story with a fake runtime and a fake load, in milliseconds: every ending heals the
faults, stops what started, writes the four files and says what happened.

Signals are real (``os.kill`` of this process), sent from inside the phase under test.
"""
from __future__ import annotations

import io
import json
import os
import signal
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import runner as runner_module
from harness.console import ConsoleProgress
from harness.data.chunks import ChunkWriter
from harness.errors import EnvironmentProblem, InputError
from harness.experiment import ExperimentSpec, load_experiment
from harness.journal import read_journal
from harness.result import RunResult
from harness.runner import RunOptions, run_experiment
from harness.runtime.base import Deployment, DeployRequest, runtimes

FILES = ("journal.jsonl", "result.json", "junit.xml", "report.html")
Hook = Callable[[], None]


def interrupt() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.01)  # the handler runs at the next bytecode; give it one


class FakeToxiproxy:
    def __init__(self) -> None:
        self.toxics: dict[tuple[str, str], str] = {}
        self.resets = 0

    def add_toxic(self, proxy: str, name: str, type: str, attributes: dict[str, Any], **_: Any) -> None:
        self.toxics[(proxy, name)] = type

    def remove_toxic(self, proxy: str, name: str) -> None:
        SCRIPT.fire("toxic.remove")
        self.toxics.pop((proxy, name), None)

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        pass

    def reset(self) -> None:
        self.resets += 1
        self.toxics.clear()


@dataclass
class Script:
    """What the fake parts do, and when a test's hook fires."""

    hooks: dict[str, Hook] = field(default_factory=dict)
    deploy_error: BaseException | None = None
    stopped: list[str] = field(default_factory=list)
    toxiproxy: FakeToxiproxy = field(default_factory=FakeToxiproxy)

    def fire(self, point: str) -> None:
        hook = self.hooks.get(point)
        if hook is not None:
            hook()


SCRIPT = Script()


class FakeDeployment(Deployment):
    def __init__(self, req: DeployRequest):
        super().__init__(req)
        self.toxiproxy = SCRIPT.toxiproxy  # type: ignore[assignment]

    def _start(self) -> None:
        pass

    def _teardown(self) -> None:
        SCRIPT.fire("runtime.stop")
        SCRIPT.stopped.append("runtime")

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:1/{service}"

    def _start_service(self, name: str) -> None:
        pass

    def _kill_service(self, name: str) -> None:
        pass

    def _stop_service(self, name: str) -> None:
        pass

    def _pause_service(self, name: str) -> None:
        pass

    def _resume_service(self, name: str) -> None:
        pass

    def _launched_services(self) -> list[str]:
        return []

    def _has_exited(self, name: str) -> bool:
        return False


def deploy_fake(req: DeployRequest) -> Deployment:
    SCRIPT.fire("deploy")
    if SCRIPT.deploy_error is not None:
        raise SCRIPT.deploy_error
    return FakeDeployment(req).start()


if "test-fake" not in runtimes:
    runtimes.register("test-fake", deploy_fake)


class FakeLoad:
    """Records a request every poll (as the Locust process does, in request chunks); the load ends
    after ``duration`` seconds."""

    def __init__(self, *, duration: float, out_dir: Path, **_: Any):
        self.duration = duration
        self.out_dir = out_dir
        self.t0 = 0.0
        self.pending: list[dict[str, Any]] = []
        self.stopped = False
        self.requests = self.failures = 0
        self.writer: ChunkWriter | None = None

    def start(self) -> None:
        self.writer = ChunkWriter(self.out_dir / "fake.hreq")
        SCRIPT.fire("load.start")

    def wait_started(self, timeout: float) -> float:
        self.t0 = time.time()
        self.pending.append({"kind": "load_started", "t": self.t0})
        return self.t0

    def drain(self) -> list[dict[str, Any]]:
        out, self.pending = self.pending, []
        return out

    def poll(self) -> int | None:
        now = time.time()
        assert self.writer is not None
        self.writer.add(now, 1.0, 0, 200, 2, "GET /", "GET", None)
        self.writer.flush()
        self.requests += 1
        if now - self.t0 > 0.3:
            SCRIPT.fire("load.during")
        return 0 if now - self.t0 >= self.duration else None

    def stop(self) -> int:
        if self.writer is not None:
            self.writer.close()
        SCRIPT.fire("load.stop")
        if not self.stopped:
            self.pending.append({"kind": "load_stopped", "t": time.time()})
        self.stopped = True
        SCRIPT.stopped.append("load")
        return 0

    def log_tail(self, n: int = 20) -> str:
        return ""


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Script]:
    global SCRIPT
    SCRIPT = Script()
    monkeypatch.setattr(runner_module, "LoadProcess", FakeLoad)
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    yield SCRIPT


@pytest.fixture
def experiment(tmp_path: Path) -> ExperimentSpec:
    (tmp_path / "locustfile.py").write_text("# never imported: the load is fake\n")
    (tmp_path / "system.yaml").write_text(textwrap.dedent("""\
        name: tiny
        locustfile: locustfile.py
        entry: front
        services:
          back: {command: ["{python}", "-c", "pass"]}
          front:
            command: ["{python}", "-c", "pass"]
            upstreams: [{service: back, env: BACK_URL}]
        """))
    (tmp_path / "exp.yaml").write_text(textwrap.dedent("""\
        name: tiny
        system: system.yaml
        load: {users: 1, spawn_rate: 1, duration: 0.6}
        faults:
          - {name: slow, type: latency, edge: front->back, attributes: {latency: 50}, start: 0.1}
        steady_state: {warmup: 0s, settle: 0s}
        checks:
          - {type: error_rate, max: 0.5, min_requests: 1}
        """))
    return load_experiment(tmp_path / "exp.yaml")


def run(exp: ExperimentSpec, tmp_path: Path, **kw: Any) -> RunResult:
    return run_experiment(exp, RunOptions(runtime="test-fake", out=tmp_path / "run", **kw))


def assert_reported(result: RunResult) -> dict[str, Any]:
    for name in FILES:
        assert (result.run_dir / name).is_file(), f"{name} missing"
    ET.parse(result.run_dir / "junit.xml")
    doc = json.loads((result.run_dir / "result.json").read_text())
    assert doc["status"] == result.status and doc["exit_code"] == result.exit_code
    history = read_journal(result.run_dir / "journal.jsonl")
    assert history.records[-1]["kind"] == "run_finished" and history.records[-1]["status"] == result.status
    return doc


def assert_healed(script: Script) -> None:
    assert not script.toxiproxy.toxics, f"faults left: {script.toxiproxy.toxics}"


def test_a_completed_run_heals_stops_and_passes(script: Script, experiment: ExperimentSpec, tmp_path: Path) -> None:
    result = run(experiment, tmp_path)
    assert (result.status, result.exit_code) == ("completed", 0)
    assert_reported(result)
    assert_healed(script)
    assert script.stopped == ["load", "runtime"]


def test_an_input_error_at_deploy_time_is_exit_2_with_all_four_files(script: Script, experiment: ExperimentSpec,
                                                                    tmp_path: Path) -> None:
    script.deploy_error = InputError("services.front.command: unknown placeholder {nope}", file="system.yaml")
    result = run(experiment, tmp_path)
    assert (result.status, result.error_kind, result.exit_code) == ("error", "input", 2)
    doc = assert_reported(result)
    assert "unknown placeholder {nope}" in doc["error"] and doc["error_kind"] == "input"


def test_an_environment_problem_is_exit_3(script: Script, experiment: ExperimentSpec, tmp_path: Path) -> None:
    script.deploy_error = EnvironmentProblem("toxiproxy-server not found", hint="run make tools")
    result = run(experiment, tmp_path)
    assert (result.status, result.error_kind, result.exit_code) == ("error", "environment", 3)
    assert_reported(result)


def test_a_bug_is_exit_4_with_its_traceback_in_the_journal(script: Script, experiment: ExperimentSpec,
                                                           tmp_path: Path) -> None:
    script.deploy_error = ZeroDivisionError("division by zero")
    result = run(experiment, tmp_path)
    assert (result.status, result.error_kind, result.exit_code) == ("error", "internal", 4)
    assert "a bug in the harness" in (result.error or "")
    assert_reported(result)
    [err] = list(read_journal(result.run_dir / "journal.jsonl").of_kind("run_error"))
    assert "ZeroDivisionError" in err["traceback"]


def test_a_bug_in_the_load_phase_still_heals_the_fault(script: Script, experiment: ExperimentSpec,
                                                       tmp_path: Path) -> None:
    def boom() -> None:
        raise KeyError("bug")
    script.hooks["load.during"] = boom
    result = run(experiment, tmp_path)
    assert (result.status, result.exit_code) == ("error", 4)
    assert_healed(script)
    assert script.stopped == ["load", "runtime"]
    assert_reported(result)


@pytest.mark.parametrize("phase", ["deploy", "load.start", "load.during", "load.stop", "runtime.stop"])
def test_a_signal_in_any_phase_ends_interrupted_after_healing(script: Script, experiment: ExperimentSpec,
                                                              tmp_path: Path, phase: str) -> None:
    script.hooks[phase] = interrupt
    result = run(experiment, tmp_path)
    assert (result.status, result.exit_code) == ("interrupted", 130), result.error
    assert_healed(script)
    assert_reported(result)
    if phase != "deploy":
        assert "runtime" in script.stopped


def test_a_signal_during_the_checks_ends_interrupted_after_the_checks(script: Script, experiment: ExperimentSpec,
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = runner_module.evaluate

    def evaluate_then_signal(*args: Any) -> Any:
        interrupt()
        return real(*args)
    monkeypatch.setattr(runner_module, "evaluate", evaluate_then_signal)
    result = run(experiment, tmp_path)
    assert (result.status, result.exit_code) == ("interrupted", 130)
    assert result.checks, "the checks under way were finished"
    assert assert_reported(result)["status"] == "interrupted"


def test_a_signal_while_the_reports_are_written_is_in_the_reports(script: Script, experiment: ExperimentSpec,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = runner_module.write_reports
    calls: list[str] = []

    def write_then_signal(run_dir: Path, result: RunResult, history: Any) -> Any:
        calls.append(result.status)
        out = real(run_dir, result, history)
        if len(calls) == 1:
            interrupt()
        return out
    monkeypatch.setattr(runner_module, "write_reports", write_then_signal)
    result = run(experiment, tmp_path)
    assert calls == ["completed", "interrupted"]
    assert assert_reported(result)["status"] == "interrupted" and result.exit_code == 130


def test_a_second_signal_takes_the_fast_way_and_still_heals_first(script: Script, experiment: ExperimentSpec,
                                                                  tmp_path: Path) -> None:
    order: list[str] = []
    script.hooks["load.during"] = interrupt
    script.hooks["load.stop"] = interrupt  # the second signal, while the load is being stopped gracefully
    real_reset = script.toxiproxy.reset

    def reset() -> None:
        order.append("reset")
        real_reset()
    script.toxiproxy.reset = reset  # type: ignore[method-assign]
    script.hooks["runtime.stop"] = lambda: order.append("runtime")
    result = run(experiment, tmp_path)
    assert (result.status, result.exit_code) == ("interrupted", 130)
    assert_healed(script)
    assert order and order[-1] == "runtime", order
    assert_reported(result)
    notes = [r for r in read_journal(result.run_dir / "journal.jsonl").of_kind("phase")]
    assert notes[-1]["phase"] == "checks"
    assert result.checks == [], "a forced exit skips the checks"


def test_a_second_signal_while_a_fault_is_removed_resets_toxiproxy(script: Script, experiment: ExperimentSpec,
                                                                   tmp_path: Path) -> None:
    order: list[str] = []
    script.hooks["load.during"] = interrupt
    script.hooks["toxic.remove"] = interrupt  # the second signal lands inside the graceful removal
    real_reset = script.toxiproxy.reset

    def reset() -> None:
        order.append("reset")
        real_reset()
    script.toxiproxy.reset = reset  # type: ignore[method-assign]
    script.hooks["load.stop"] = lambda: order.append("load")
    script.hooks["runtime.stop"] = lambda: order.append("runtime")
    result = run(experiment, tmp_path)
    assert (result.status, result.exit_code) == ("interrupted", 130)
    assert_healed(script)
    assert order == ["reset", "load", "runtime"], "healed first, then the rest (killed already)"
    removed = list(read_journal(result.run_dir / "journal.jsonl").of_kind("fault_removed"))
    assert [r.get("via") for r in removed] == ["reset"]


def test_a_broken_report_renderer_still_leaves_four_files(script: Script, experiment: ExperimentSpec, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(run_dir: Path, result: RunResult, history: Any) -> Any:
        (run_dir / "result.json").write_text("{}")
        raise ValueError("template bug")
    monkeypatch.setattr(runner_module, "write_reports", broken)
    result = run(experiment, tmp_path)
    assert (result.status, result.error_kind, result.exit_code) == ("error", "internal", 4)
    assert "template bug" in (result.error or "")
    assert_reported(result)


class ClosedPipe(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_console_changes_nothing_but_the_output(script: Script, experiment: ExperimentSpec,
                                                         tmp_path: Path) -> None:
    opts = RunOptions(runtime="test-fake", out=tmp_path / "run")
    console = ConsoleProgress(opts.events, stream=ClosedPipe())
    result = run_experiment(experiment, opts)
    assert console.closed
    assert (result.status, result.exit_code) == ("completed", 0)
    assert_healed(script)
    assert_reported(result)
