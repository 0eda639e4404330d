"""The check registry and the one protocol every check follows (after Jepsen's checkers).

A check is a pure function of the recorded history: ``(history, params, windows) -> Outcome``
with a verdict of ``passed``, ``failed`` or ``unknown`` and evidence (numbers and times). A
check that crashes yields ``unknown``, never a pass and never a crashed run.

Some evidence exists only while the system runs (a Prometheus's time series). A check type
may declare the series it will judge, ``series(params) -> [SeriesQuery]`` (data, no I/O);
``harness.metrics.collect`` queries them before the runtime stops and writes them into the
journal (``metric_series``), so the check itself stays a pure function of the finished journal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Literal, TypeVar

from ..model import Spec
from ..registry import Registry

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec
    from ..journal import History
    from .windows import Windows, WindowSpec

Verdict = Literal["passed", "failed", "unknown"]
SEVERITY: dict[str, int] = {"passed": 0, "unknown": 1, "failed": 2}


@dataclass
class Outcome:
    verdict: Verdict
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    name: str
    type: str
    verdict: Verdict
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    group: str = "checks"  # "checks", "steady_state.before", "steady_state.after"
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "group": self.group, "verdict": self.verdict,
                "summary": self.summary, "description": self.description, "evidence": self.evidence}


@dataclass(frozen=True)
class SeriesQuery:
    """A PromQL range query a check will judge, over one of its windows at ``step`` resolution.

    Its answer lands in the journal as a ``metric_series`` record carrying the same
    ``query``, the window's label and ``step``, which is how the check finds it.
    """

    query: str
    window: WindowSpec | None
    step: float


P = TypeVar("P", bound=Spec)
CheckFn = Callable[["History", Any, "Windows"], Outcome]
RefFn = Callable[[Any, "ExperimentSpec"], Iterable[tuple[str, str]]]
SeriesFn = Callable[[Any], list[SeriesQuery]]


@dataclass
class CheckType(Generic[P]):
    name: str
    Params: type[P]
    run: CheckFn
    doc: str = ""
    refs: RefFn | None = None
    series: SeriesFn | None = None
    """The metric series the check judges, collected from the running system before it stops."""

    def references(self, params: P, exp: "ExperimentSpec") -> list[tuple[str, str]]:
        """Problems with names the params refer to (faults, services): (message, field)."""
        from .windows import window_references

        found = list(window_references(getattr(params, "window", None), exp))
        for field_name in ("after", "anchor"):
            anchor = getattr(params, field_name, None)
            if anchor is not None and hasattr(anchor, "fault"):
                found.extend(window_references(anchor, exp, field_name))
        if self.refs:
            found.extend(self.refs(params, exp))
        return found


check_types: Registry[CheckType[Any]] = Registry("check type")


def check(name: str, params: type[P], refs: RefFn | None = None,
          series: SeriesFn | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register a check function: ``@check("error_rate", ErrorRateParams)``."""

    def decorate(fn: CheckFn) -> CheckFn:
        check_types.register(name, CheckType(name=name, Params=params, run=fn, doc=(fn.__doc__ or "").strip(), refs=refs,
                                             series=series))
        return fn

    return decorate


def merge_verdicts(verdicts: Iterable[str]) -> Verdict:
    """The merged verdict is the most serious one; no verdicts at all is unknown."""
    worst: Verdict | None = None
    for v in verdicts:
        if worst is None or SEVERITY[v] > SEVERITY[worst]:
            worst = v  # type: ignore[assignment]
    return worst or "unknown"
