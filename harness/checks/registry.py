"""The check registry and the one protocol every check follows (after Jepsen's checkers).

A check is a pure function of the recorded history: ``(history, params, windows) -> Outcome``
with a verdict of ``passed``, ``failed`` or ``unknown`` and evidence (numbers and times). A
check that crashes yields ``unknown``, never a pass and never a crashed run.

Some evidence exists only while the system runs (a Prometheus's time series). A check type
may declare a ``collect`` step, ``(history so far, params, windows) -> records``, which the
runner calls before it stops the runtime; the records land in the journal and the check
itself stays a pure function of the finished journal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Literal, TypeVar

from ..model import Spec
from ..registry import Registry

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec
    from ..journal import History
    from .windows import Windows

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


P = TypeVar("P", bound=Spec)
CheckFn = Callable[["History", Any, "Windows"], Outcome]
RefFn = Callable[[Any, "ExperimentSpec"], Iterable[tuple[str, str]]]
CollectFn = Callable[["History", Any, "Windows"], list[dict[str, Any]]]


@dataclass
class CheckType(Generic[P]):
    name: str
    Params: type[P]
    run: CheckFn
    doc: str = ""
    refs: RefFn | None = None
    collect: CollectFn | None = None
    """Gathers evidence from the running system into journal records, before it stops."""

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
          collect: CollectFn | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register a check function: ``@check("error_rate", ErrorRateParams)``."""

    def decorate(fn: CheckFn) -> CheckFn:
        check_types.register(name, CheckType(name=name, Params=params, run=fn, doc=(fn.__doc__ or "").strip(), refs=refs,
                                             collect=collect))
        return fn

    return decorate


def merge_verdicts(verdicts: Iterable[str]) -> Verdict:
    """The merged verdict is the most serious one; no verdicts at all is unknown."""
    worst: Verdict | None = None
    for v in verdicts:
        if worst is None or SEVERITY[v] > SEVERITY[worst]:
            worst = v  # type: ignore[assignment]
    return worst or "unknown"
