"""The public extension API: everything a user's checks, faults and runtimes need, in one import.

A plugin is a Python module that registers entries with the decorators below. The harness
imports it from a manifest's ``plugins: [my_checks.py]`` (visible to that system's experiments
only) or, installed as a distribution, through an entry point of group ``harness.plugins``
(visible to every experiment)::

    from harness.plugin import History, Outcome, RequestFilter, Spec, Windows, WindowSpec, check, select_requests

    class SlowParams(Spec):
        window: WindowSpec = "all"
        filter: RequestFilter | None = None
        max_ms: float

    @check("slowest_request", SlowParams)
    def slowest_request(history: History, p: SlowParams, windows: Windows) -> Outcome:
        w = windows.resolve(p.window)
        reqs = select_requests(history.requests, w, p.filter)
        worst = float(reqs.ms.max()) if len(reqs) else 0.0
        return Outcome("passed" if worst <= p.max_ms else "failed", f"slowest {worst:.0f} ms",
                       {"slowest_ms": worst, "requests": len(reqs), "window": w.label})

docs/plugins.md is the worked example. Names not exported here are internal and may change.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from .checks.registry import CheckResult, CheckType, Outcome, SeriesQuery, Verdict, check, check_types
from .checks.selection import RequestFilter, event_matches, request_stats, select_requests
from .checks.windows import AnchorSpec, FaultWindowSpec, Window, Windows, WindowSpec
from .data.table import RequestTable
from .durations import Duration, parse_duration
from .errors import EnvironmentProblem, InputError
from .faults.registry import (
    FAULT_TYPES,
    ActiveFault,
    FaultContext,
    FaultType,
    Microseconds,
    Milliseconds,
    TargetKind,
    ToxicFault,
)
from .faults.registry import register as fault
from .journal import FaultWindow, History, Record, read_journal
from .model import Spec
from .registry import Scope
from .runtime.base import Deployment, DeployRequest, RuntimeFactory, runtimes

__all__ = [
    # registration
    "check", "fault", "runtime", "check_types", "FAULT_TYPES", "runtimes", "Scope",
    # checks: outcome and evidence, the history, windows and request filters
    "Outcome", "Verdict", "CheckResult", "CheckType", "SeriesQuery", "History", "Record", "FaultWindow", "read_journal",
    "RequestTable", "RequestFilter", "select_requests", "request_stats", "event_matches",
    "Window", "Windows", "WindowSpec", "FaultWindowSpec", "AnchorSpec",
    # parameter models
    "Spec", "Duration", "parse_duration", "Milliseconds", "Microseconds",
    # faults
    "FaultType", "ToxicFault", "ActiveFault", "FaultContext", "TargetKind",
    # runtimes
    "Deployment", "DeployRequest", "RuntimeFactory",
    # errors a plugin may raise
    "InputError", "EnvironmentProblem",
]

R = TypeVar("R", bound=RuntimeFactory)


def runtime(name: str) -> Callable[[R], R]:
    """Register a runtime factory: ``@runtime("nomad")`` over ``def deploy(req: DeployRequest) -> Deployment``.

    ``harness run --runtime nomad`` (or ``runtime="nomad"`` in the pytest plugin) then deploys with it.
    """

    def decorate(factory: R) -> R:
        runtimes.register(name, factory)
        return factory

    return decorate
