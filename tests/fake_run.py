"""Fakes for telling the story of a run in milliseconds: a clock, a deployment, a load.

- ``FakeClock`` replaces ``time`` in the modules that time a run (the runner, the fault
  timeline, the journal): ``sleep`` advances it, so a 30-second experiment runs in a few ms and
  every time in the journal is exact.
- ``FakeDeployment`` is a runtime whose services are names in a set and whose Toxiproxy is a
  recorder of the calls faults make; process faults go through the real ``Deployment`` base.
- ``FakeLoad`` "sends" ``rate`` requests a second of fake time and stores them in the real
  request format (``harness.data.chunks``), asking a ``behaviour`` how each one went given the
  deployment's state (a toxic on an edge, a service down): a sound or a defective system.
"""
from __future__ import annotations

import json
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.data.chunks import OUTCOME_CODES, ChunkWriter
from harness.errors import RunInterrupted
from harness.runtime.base import Deployment, DeployRequest

START = 1_000_000.0
"""Small enough that time differences keep microsecond precision in a float."""


class FakeClock:
    def __init__(self, now: float = START):
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - START

    def sleep(self, seconds: float) -> None:
        # Rounded to the microsecond: 160 sleeps of 0.05 s are exactly 8 s, as on a wall clock.
        self.now = round(self.now + max(seconds, 0.0), 6)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import harness.faults.timeline
        import harness.journal
        import harness.runner

        fake = types.SimpleNamespace(time=self.time, monotonic=self.monotonic, sleep=self.sleep)
        for module in (harness.runner, harness.faults.timeline, harness.journal):
            monkeypatch.setattr(module, "time", fake)


class FakeToxiproxy:
    """Records what faults ask of Toxiproxy; ``toxics`` is what is in place now."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.toxics: dict[str, str] = {}  # toxic name -> proxy
        self.disabled: set[str] = set()

    def add_toxic(self, proxy: str, name: str, type: str, attributes: dict[str, Any], **_: Any) -> None:
        self.calls.append(f"add {type} {name} on {proxy}")
        self.toxics[name] = proxy

    def remove_toxic(self, proxy: str, name: str, **_: Any) -> None:
        self.calls.append(f"remove {name} on {proxy}")
        self.toxics.pop(name, None)

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        self.calls.append(f"{'enable' if enabled else 'disable'} {proxy}")
        (self.disabled.discard if enabled else self.disabled.add)(proxy)

    def reset(self) -> None:
        self.calls.append("reset")
        self.toxics.clear()
        self.disabled.clear()


class FakeDeployment(Deployment):
    def __init__(self, req: DeployRequest, clock: FakeClock, crash: dict[str, float] | None = None):
        super().__init__(req)
        self.clock = clock
        self.toxiproxy = FakeToxiproxy()  # type: ignore[assignment]
        self.running: set[str] = set()
        self.actions: list[str] = []
        self.crash_at = dict(crash or {})
        """Service -> the (fake) epoch time at which it dies on its own."""
        self.stopped = False

    def _start(self) -> None:
        for name in self.system.start_order():
            self._start_service(name)

    def _teardown(self) -> None:
        self.stopped = True
        self.running.clear()

    def service_url(self, service: str) -> str:
        return f"http://fake.invalid/{service}"

    def _start_service(self, name: str) -> None:
        self.actions.append(f"start {name}")
        self.running.add(name)
        self._service_started(name, 0.0)

    def _kill_service(self, name: str) -> None:
        self.actions.append(f"kill {name}")
        self.running.discard(name)

    def _stop_service(self, name: str) -> None:
        self.actions.append(f"stop {name}")
        self.running.discard(name)

    def _pause_service(self, name: str) -> None:
        self.actions.append(f"pause {name}")

    def _resume_service(self, name: str) -> None:
        self.actions.append(f"resume {name}")

    def _launched_services(self) -> list[str]:
        return list(self.system.services)

    def _has_exited(self, name: str) -> bool:
        died = self.crash_at.get(name)
        if died is not None and self.clock.time() >= died:
            self.running.discard(name)
        return name not in self.running


Behaviour = Callable[[float, FakeDeployment], tuple[float, str]]
"""(seconds since load started, the deployment) -> (ms, outcome) of one request."""


def sound(_offset: float, _dep: FakeDeployment) -> tuple[float, str]:
    return 5.0, "ok"


@dataclass
class FakeLoad:
    """A ``LoadGenerator`` over fake time; made by ``factory()`` for ``RunOptions(load=...)``."""

    clock: FakeClock
    deployment: Callable[[], FakeDeployment]
    out_dir: Path
    duration: float
    behaviour: Behaviour = sound
    rate: float = 20.0
    exit_code: int = 0
    exits_at: float | None = None
    """Offset at which the load generator dies with ``exit_code`` (None: runs to the end)."""
    interrupt_at: float | None = None
    """Offset at which a SIGINT arrives (raised from ``drain`` as the signal handler would)."""
    started_at: float | None = None
    stopped: bool = False
    requests: int = 0
    failures: int = 0
    _writer: ChunkWriter | None = None
    _made: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> None:
        self._writer = ChunkWriter(self.out_dir / "fake.hreq")

    def wait_started(self, timeout: float) -> float:
        self.started_at = self.clock.time()
        self._pending.append({"kind": "load_started", "t": self.started_at})
        return self.started_at

    def drain(self) -> list[dict[str, Any]]:
        self._make_requests()
        if self.interrupt_at is not None and self._offset() >= self.interrupt_at and not self.stopped:
            self.interrupt_at = None
            raise RunInterrupted("SIGINT")
        out, self._pending = self._pending, []
        return out

    def poll(self) -> int | None:
        if self.stopped:
            return self.exit_code
        if self.exits_at is not None and self._offset() >= self.exits_at:
            self._finish()
            return self.exit_code
        if self._offset() >= self.duration:
            self._finish()
            return 0
        return None

    def stop(self, timeout: float = 10.0) -> int | None:
        if not self.stopped:
            self._finish()
        return self.exit_code if self.exits_at is not None else 0

    def log_tail(self, n: int = 20) -> str:
        return "fake load: the locustfile raised"

    def _offset(self) -> float:
        assert self.started_at is not None
        return self.clock.time() - self.started_at

    def _make_requests(self) -> None:
        if self.started_at is None or self.stopped or self._writer is None:
            return
        end = min(self.clock.time() - self.started_at, self.duration)
        while (self._made + 1) / self.rate <= end + 1e-9:
            self._made += 1
            offset = self._made / self.rate
            ms, outcome = self.behaviour(offset, self.deployment())
            self._writer.add(self.started_at + offset, ms, OUTCOME_CODES[outcome], 200 if outcome == "ok" else 503, 2,
                             "GET /", "GET", None if outcome == "ok" else "HTTP 503")
            self.requests += 1
            self.failures += outcome != "ok"
        self._writer.flush()

    def _finish(self) -> None:
        self._make_requests()
        self.stopped = True
        self._pending.append({"kind": "load_stopped", "t": self.clock.time()})
        if self._writer is not None:
            self._writer.close()


def write_system(directory: Path, *, defects: str = "") -> Path:
    """front -> back, never started for real: a fake runtime runs it."""
    (directory / "locustfile.py").write_text("")
    path = directory / "system.yaml"
    path.write_text("name: fake\nlocustfile: locustfile.py\nentry: front\nservices:\n"
                    "  back: {command: [back]}\n"
                    "  front: {command: [front], upstreams: [{service: back, env: BACK_URL}]}\n" + defects)
    return path


def journal_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
