"""Selecting requests and events from a history, and the statistics checks quote."""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

from pydantic import Field, model_validator

from ..journal import Record
from ..model import Spec
from .windows import Window


class RequestFilter(Spec):
    name: str | None = Field(None, description="exact request name as the locustfile names it")
    name_regex: str | None = None
    method: str | None = None

    @model_validator(mode="after")
    def _regex_compiles(self) -> "RequestFilter":
        if self.name_regex is not None:
            try:
                re.compile(self.name_regex)
            except re.error as exc:
                raise ValueError(f"name_regex is not a valid regular expression: {exc}") from None
        return self

    def matches(self, r: Record) -> bool:
        if self.name is not None and r.get("name") != self.name:
            return False
        if self.method is not None and str(r.get("method", "")).upper() != self.method.upper():
            return False
        if self.name_regex is not None and not re.search(self.name_regex, str(r.get("name", ""))):
            return False
        return True

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items()]
        return ", ".join(parts) or "all requests"


def select_requests(requests: Iterable[Record], window: Window, flt: RequestFilter | None) -> list[Record]:
    return [r for r in requests if window.holds_request(r) and (flt is None or flt.matches(r))]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def request_stats(reqs: list[Record]) -> dict[str, Any]:
    ms = sorted(float(r["ms"]) for r in reqs)
    failed = sum(1 for r in reqs if r.get("outcome") == "fail")
    info = sum(1 for r in reqs if r.get("outcome") == "info")
    out: dict[str, Any] = {"requests": len(reqs), "failed": failed, "indeterminate": info}
    if ms:
        out.update(p50_ms=round(percentile(ms, 50), 2), p95_ms=round(percentile(ms, 95), 2),
                   p99_ms=round(percentile(ms, 99), 2), max_ms=round(ms[-1], 2))
    return out


def event_matches(event: Record, match: dict[str, Any]) -> bool:
    return all(event.get(k) == v for k, v in match.items())
