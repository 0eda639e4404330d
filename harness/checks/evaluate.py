"""Run every check and steady-state condition of an experiment over a finished history.

Live evidence (a Prometheus's series) was collected into the history before the system
stopped (``harness.metrics.collect``); nothing here performs I/O.
"""
from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Iterator

from .registry import CheckResult, Outcome, check_types
from .windows import Windows

if TYPE_CHECKING:
    from ..experiment import CheckSpec, ExperimentSpec
    from ..journal import History


def run_one(spec: "CheckSpec", history: "History", windows: Windows, group: str) -> CheckResult:
    ctype = check_types.get(spec.type)
    try:
        outcome = ctype.run(history, spec.parsed_params, windows)
    except Exception as exc:  # a crashed checker is 'unknown', never a pass and never a crashed run
        outcome = Outcome("unknown", f"the check crashed: {type(exc).__name__}: {exc}",
                          {"traceback": traceback.format_exc(limit=5)})
    name = spec.name or spec.type
    if spec.derived:  # a bound tied to the mechanism's own parameters: say how it was derived
        outcome.evidence["bounds_derived"] = [d.to_dict() for d in spec.derived]
        outcome.summary += " [" + "; ".join(d.describe() for d in spec.derived) + "]"
    return CheckResult(name=name, type=spec.type, verdict=outcome.verdict, summary=outcome.summary,
                       evidence=outcome.evidence, group=group, description=spec.description)


def evaluate(exp: "ExperimentSpec", history: "History") -> list[CheckResult]:
    results: list[CheckResult] = []
    with exp.plugin_scope.active():  # the check types its system's plugins registered
        for group, spec, windows in each_spec(exp, history):
            r = run_one(spec, history, windows, group=group)
            if group != "checks":
                r.name = f"steady-state {windows.default}: {r.name}"
            results.append(r)
    return results


def each_spec(exp: "ExperimentSpec", history: "History") -> Iterator[tuple[str, "CheckSpec", Windows]]:
    """Each condition (over 'before', then 'after') and each check: its group and its windows."""
    for phase in ("before", "after"):
        windows = Windows(history, default=phase)
        for spec in exp.steady_state.conditions:
            yield f"steady_state.{phase}", spec, windows
    windows = Windows(history)
    for spec in exp.checks:
        yield "checks", spec, windows

