"""The terminal view of a run: where it is, faults as they come and go, each verdict.

Output is a courtesy, never part of the run: when whoever reads it goes away (``| head``
exits, a CI log reader dies), the next write raises BrokenPipeError. The console then goes
quiet for the rest of the run instead of letting that error abort the run or its clean-up;
the run still heals, stops, reports, and exits as its result says.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

from .checks.registry import CheckResult
from .events import RunEvents

_COLORS = {"passed": "32", "failed": "31", "unknown": "33"}


def silence(stream: TextIO) -> None:
    """Point a standard stream whose reader is gone at /dev/null, so later writes and the
    interpreter's final flush do not raise again ("Note on SIGPIPE" in Python's signal docs)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)


def safe_write(stream: TextIO, text: str) -> bool:
    """Write and flush; False (and the stream silenced) if its reader is gone."""
    try:
        stream.write(text)
        stream.flush()
        return True
    except (OSError, ValueError):
        silence(stream)
        return False


class ConsoleProgress:
    def __init__(self, events: RunEvents, stream: TextIO = sys.stderr, max_events: int = 30):
        self.stream = stream
        self.color = stream.isatty()
        self.started = time.monotonic()
        self.max_events = max_events
        self.events_shown = 0
        self.closed = False
        """The stream went away (or failed): nothing more is written."""
        events.phase_changed.add_listener(self.on_phase)
        events.service_started.add_listener(self.on_service)
        events.fault_applied.add_listener(self.on_fault_applied)
        events.fault_removed.add_listener(self.on_fault_removed)
        events.target_event.add_listener(self.on_target_event)
        events.progress.add_listener(self.on_progress)
        events.check_evaluated.add_listener(self.on_check)
        events.notice.add_listener(self.on_notice)

    def _line(self, text: str) -> None:
        if self.closed:
            return
        elapsed = time.monotonic() - self.started
        try:
            self.stream.write(f"[{elapsed:6.1f}s] {text}\n")
            self.stream.flush()
        except (OSError, ValueError):  # BrokenPipeError, EIO of a dead terminal, a closed file
            self.closed = True
            silence(self.stream)

    def paint(self, text: str, verdict: str) -> str:
        return f"\033[{_COLORS.get(verdict, '0')}m{text}\033[0m" if self.color else text

    def on_phase(self, phase: str) -> None:
        self._line(f"== {phase}")

    def on_service(self, service: str, url: str) -> None:
        self._line(f"   service {service} healthy at {url}")

    def on_fault_applied(self, fault: str, type: str, target: str, at_s: float) -> None:
        self._line(f"!! fault {fault} applied: {type} on {target} (t+{at_s:.1f}s)")

    def on_fault_removed(self, fault: str, at_s: float) -> None:
        self._line(f"ok fault {fault} removed (t+{at_s:.1f}s)")

    def on_target_event(self, record: dict[str, Any]) -> None:
        self.events_shown += 1
        if self.events_shown > self.max_events:
            if self.events_shown == self.max_events + 1:
                self._line("   (more target events: see the report)")
            return
        fields = " ".join(f"{k}={v}" for k, v in record.items() if k not in ("kind", "t", "service", "type"))
        self._line(f"   event {record.get('service')}: {record.get('type')} {fields}")

    def on_progress(self, elapsed_s: float, duration_s: float, requests: int, failures: int, active_faults: list[str]) -> None:
        faults = f" faults: {', '.join(active_faults)}" if active_faults else ""
        if int(elapsed_s) % 5 == 0 or active_faults:
            self._line(f"   load {elapsed_s:5.1f}/{duration_s:g}s  requests {requests}  failures {failures}{faults}")

    def on_check(self, result: CheckResult) -> None:
        badge = self.paint(f"{result.verdict.upper():<8}", result.verdict)
        self._line(f"   {badge} {result.name}: {result.summary}")

    def on_notice(self, message: str) -> None:
        self._line(f"** {message}")
