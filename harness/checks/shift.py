"""Bounds on a figure relative to its own baseline: "p95 rose by at most 50 ms", "by at least 100%".

``latency`` and ``error_rate`` take ``max_increase`` / ``min_increase`` next to ``max`` / ``min``;
the increase is measured against the same figure (same percentile, same requests) in the
``baseline`` window (``before`` unless told otherwise). A ``min`` or ``min_increase`` proves that
a fault actually bit: a check whose fault never took effect then fails instead of passing on a
system that was never stressed.

    latency      max_increase: 50ms     the window's figure minus the baseline's, in time
                 max_increase: "20%"    relative: (window / baseline - 1) x 100
    error_rate   max_increase: 0.05     in points of the share: the window's rate minus the baseline's
                 max_increase: "5%"     the same, written as percentage points (an error rate's
                                        baseline is often 0, where a ratio means nothing)
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from ..durations import parse_duration

_PERCENT = re.compile(r"^(?P<num>-?\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class Shift:
    """An increase bound: ``value`` seconds (latency) or share (error rate), or a percentage."""

    value: float
    percent: bool

    param_derivable: ClassVar[bool] = True
    """A bound a manifest parameter may give (``max_increase: {param: back_timeout, margin: 50ms}``):
    harness.params derives it like a number or a duration."""

    def render(self, unit: Literal["ms", "share"]) -> str:
        if self.percent:
            return f"{self.value:g}%" if unit == "ms" else f"{self.value:g} points"
        return f"{self.value * 1000:g} ms" if unit == "ms" else f"{self.value * 100:g} points"


def _latency_shift(value: Any) -> Shift:
    if isinstance(value, Shift):
        return value
    if isinstance(value, str) and (m := _PERCENT.match(value.strip())):
        return Shift(float(m.group("num")), percent=True)
    try:
        return Shift(parse_duration(value), percent=False)
    except ValueError:
        raise ValueError(f"invalid latency increase {value!r}: a duration ('50ms', '1s') or a percentage of the "
                         "baseline ('20%')") from None


def _share_shift(value: Any) -> Shift:
    if isinstance(value, Shift):
        return value
    if isinstance(value, str) and (m := _PERCENT.match(value.strip())):
        return Shift(float(m.group("num")) / 100, percent=False)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and -1 <= value <= 1:
        return Shift(float(value), percent=False)
    raise ValueError(f"invalid error-rate increase {value!r}: a share of requests between -1 and 1 (0.05) or "
                     "percentage points ('5%')")


def _dump(shift: Shift) -> Any:
    return f"{shift.value:g}%" if shift.percent else shift.value


_PERCENT_SCHEMA = {"type": "string", "pattern": r"^-?\d+(\.\d+)?%$"}
LatencyShift = Annotated[Shift, BeforeValidator(_latency_shift), PlainSerializer(_dump), WithJsonSchema(
    {"anyOf": [_PERCENT_SCHEMA, {"type": "number"}, {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"}],
     "description": "a duration ('50ms') or a percentage of the baseline ('20%')"}, mode="validation")]
"""A latency increase: a duration, or a percentage of the baseline."""
ShareShift = Annotated[Shift, BeforeValidator(_share_shift), PlainSerializer(_dump), WithJsonSchema(
    {"anyOf": [_PERCENT_SCHEMA, {"type": "number", "minimum": -1, "maximum": 1}],
     "description": "a share of requests (0.05) or percentage points ('5%')"}, mode="validation")]
"""An error-rate increase, in points of the share."""


def judge(value: float, base: float, *, max_increase: Shift | None, min_increase: Shift | None,
          scale: float, unit: str) -> tuple[bool | None, list[str]]:
    """Whether ``value`` keeps the increase bounds relative to ``base`` (None: a percentage of a zero
    baseline, which cannot be judged), and each bound's figure in words.

    ``scale`` turns an absolute shift into the unit of ``value`` (1000: seconds -> ms; 100: share -> %)."""
    failed = unknown = False
    said: list[str] = []
    for shift, is_max in ((max_increase, True), (min_increase, False)):
        if shift is None:
            continue
        word = "max" if is_max else "min"
        if shift.percent:
            if base <= 0:
                said.append(f"a {word} increase of {shift.value:g}% cannot be judged on a baseline of 0")
                unknown = True
                continue
            rise, bound, shown = (value / base - 1.0) * 100.0, shift.value, "%"
        else:
            rise, bound, shown = value - base, shift.value * scale, f" {unit}"
        held = rise <= bound if is_max else rise >= bound
        failed = failed or not held
        said.append(f"{rise:+.1f}{shown} vs baseline ({word} {bound:+g}{shown})")
    return (False if failed else None if unknown else True), said
