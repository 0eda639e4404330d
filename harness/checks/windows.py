"""Time windows over a run, resolved from the journal's actual times (not the planned ones).

    before              load start + warmup  ->  first fault applied (or load end)
    after               last fault removed + settle  ->  load end
    all                 load start + warmup  ->  load end
    {during: F}         fault F applied (+skip)  ->  F removed (or load end)
    {after: F}          fault F removed (+skip)  ->  (+length) or load end
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Literal, Union

from pydantic import Field, model_validator

from ..durations import Duration
from ..model import Spec

if TYPE_CHECKING:
    from ..data.table import RequestTable
    from ..experiment import ExperimentSpec
    from ..journal import History


class FaultWindowSpec(Spec):
    during: str | None = Field(None, description="fault name: from its application to its removal")
    after: str | None = Field(None, description="fault name: from its removal on")
    skip: Duration = Field(0.0, description="ignore this much at the start of the window")
    length: Duration | None = Field(None, description="cap the window's length")

    @model_validator(mode="after")
    def _exactly_one_anchor(self) -> "FaultWindowSpec":
        if (self.during is None) == (self.after is None):
            raise ValueError("give exactly one of 'during: FAULT' or 'after: FAULT'")
        return self


WindowSpec = Union[Literal["before", "after", "all"], FaultWindowSpec]


class AnchorSpec(Spec):
    """A point in time: a fault's actual start or end."""

    fault: str = Field(description="the fault's name")
    edge: Literal["start", "end"] = Field("start", description="the fault's actual start or end")


@dataclass
class Window:
    label: str
    start: float | None
    end: float | None
    finished_by_end: bool = False
    """Count only requests that also finished inside the window. True for 'before': a request
    that started a moment before the first fault and was caught by it says nothing about the
    steady state before the fault."""

    @property
    def known(self) -> bool:
        return self.start is not None and self.end is not None and self.end > self.start

    def contains(self, t: float) -> bool:
        return self.start is not None and self.end is not None and self.start <= t < self.end

    def select(self, table: "RequestTable") -> "RequestTable":
        """The requests of ``table`` in this window (none when the window is unknown)."""
        if self.start is None or self.end is None:
            return table.head(0)
        inside = table.between(self.start, self.end)
        return inside.finished_by(self.end) if self.finished_by_end else inside

    def holds_request(self, r: dict[str, Any]) -> bool:
        if not self.contains(r["t"]):
            return False
        if self.finished_by_end:
            assert self.end is not None
            return float(r["t"]) + float(r.get("ms", 0.0)) / 1000.0 <= self.end
        return True

    def describe(self, origin: float | None) -> dict[str, float | str | None]:
        def rel(t: float | None) -> float | None:
            return round(t - origin, 3) if (t is not None and origin is not None) else None
        return {"window": self.label, "from_s": rel(self.start), "to_s": rel(self.end)}


class Windows:
    """Resolves window specs against one history. ``default`` serves steady-state conditions."""

    def __init__(self, history: "History", default: WindowSpec = "all"):
        self.history = history
        self.default = default
        cfg = history.run.get("steady_state", {})
        self.warmup = float(cfg.get("warmup", 0.0))
        self.settle = float(cfg.get("settle", 0.0))
        self.faults = history.faults()

    @property
    def origin(self) -> float | None:
        return self.history.load_start

    def resolve(self, spec: WindowSpec | None) -> Window:
        spec = self.default if spec is None else spec
        h = self.history
        start, end = h.load_start, h.load_end
        if start is None or end is None:
            return Window(str(spec), None, None)
        applied = [f.applied for f in self.faults.values() if f.applied is not None]
        removed = [f.removed if f.removed is not None else end for f in self.faults.values() if f.applied is not None]
        if spec == "all":
            return Window("all", start + self.warmup, end)
        if spec == "before":
            return Window("before", start + self.warmup, min(applied) if applied else end, finished_by_end=True)
        if spec == "after":
            return Window("after", (max(removed) + self.settle) if removed else start + self.warmup, end)
        assert isinstance(spec, FaultWindowSpec)
        name = spec.during or spec.after or ""
        fw = self.faults.get(name)
        label = f"during {name}" if spec.during else f"after {name}"
        if fw is None or fw.applied is None:
            return Window(label + " (fault never applied)", None, None)
        if spec.during:
            w_start, w_end = fw.applied + spec.skip, (fw.removed if fw.removed is not None else end)
        else:
            if fw.removed is None:
                return Window(label + " (fault never removed)", None, None)
            w_start, w_end = fw.removed + spec.skip, end
        if spec.length is not None:
            w_end = min(w_end, w_start + spec.length)
        return Window(label, w_start, w_end)

    def anchor(self, spec: AnchorSpec) -> float | None:
        fw = self.faults.get(spec.fault)
        if fw is None:
            return None
        return fw.applied if spec.edge == "start" else fw.removed


def window_references(spec: object, exp: "ExperimentSpec", field: str = "window") -> Iterable[tuple[str, str]]:
    names = {f.name for f in exp.faults}
    for attr in ("during", "after", "fault"):
        ref = getattr(spec, attr, None)
        if isinstance(ref, str) and ref not in names:
            yield (f"no fault named '{ref}' in this experiment; faults: {', '.join(sorted(n for n in names if n)) or 'none'}", field)
