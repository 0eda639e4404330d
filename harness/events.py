"""Run events, after Locust's ``EventHook``: parts subscribe instead of calling each other.

The runner fires; the console progress display (and later the web UI tab) listens.
"""
from __future__ import annotations

from typing import Any, Callable


class EventHook:
    def __init__(self) -> None:
        self._listeners: list[Callable[..., None]] = []

    def add_listener(self, fn: Callable[..., None]) -> Callable[..., None]:
        self._listeners.append(fn)
        return fn

    def fire(self, **kwargs: Any) -> None:
        for fn in list(self._listeners):
            fn(**kwargs)


class RunEvents:
    phase_changed: EventHook
    """phase: str -- setup, steady-state, load, teardown, checks, reports"""
    service_started: EventHook
    """service: str, url: str"""
    fault_applied: EventHook
    """fault: str, type: str, target: str, at_s: float"""
    fault_removed: EventHook
    """fault: str, at_s: float"""
    target_event: EventHook
    """record: dict -- a resilience event a service reported"""
    progress: EventHook
    """elapsed_s: float, duration_s: float, requests: int, failures: int, active_faults: list[str]"""
    check_evaluated: EventHook
    """result: CheckResult"""
    notice: EventHook
    """message: str -- something a person should see (a deviated steady state, a cleanup step)"""

    def __init__(self) -> None:
        for name in self.__class__.__annotations__:
            setattr(self, name, EventHook())
