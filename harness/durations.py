"""Durations as written in experiment files: ``500ms``, ``10s``, ``2m``, or a bare number of seconds.

``10 s`` (with a space) and ``10sec`` are rejected with a message that shows valid forms.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PATTERN = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


MAX_SECONDS = 30 * 24 * 3600.0
"""30 days: longer than any run or timeout means; beyond it a typo (or an overflow downstream)."""


def parse_duration(value: Any) -> float:
    """Return seconds. Raises ValueError with a message fit for a user."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '500ms', '10s' or '2m', got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"a duration must be a finite number of seconds, got {value!r}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return _capped(float(value), value)
    if isinstance(value, str):
        m = _PATTERN.match(value.strip() if value.strip() == value else value)
        if m:
            return _capped(float(m.group("num")) * _SCALE[m.group("unit")], value)
    raise ValueError(
        f"invalid duration {value!r}: write a number with a unit and no space, "
        "like '500ms', '10s', '2m' or '1h' (a bare number means seconds)"
    )


def _capped(seconds: float, given: Any) -> float:
    if seconds > MAX_SECONDS:
        raise ValueError(f"a duration must be at most 30 days, got {given!r}")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


DURATION_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"}],
    "description": "a duration: '500ms', '10s', '2m', '1h', or a bare number of seconds"}
"""How a duration is written, for the published JSON Schema (harness.schema)."""

Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(lambda s: s, return_type=float),
                     WithJsonSchema(DURATION_JSON_SCHEMA, mode="validation")]
"""Seconds, as a float, parsed from the forms above."""
