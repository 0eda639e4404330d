"""Selecting requests and events from a history, and the statistics checks quote.

Requests are a :class:`harness.data.RequestTable`: ``select_requests`` narrows it to a window
(a binary search on start times) and a :class:`RequestFilter` (evaluated once per distinct
endpoint), and ``request_stats`` gives the numbers checks quote. Both still accept a list of
request dicts, for plugin code written against the older API.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

from pydantic import Field, model_validator

from ..data.table import RequestTable
from ..journal import Record
from ..model import Spec
from .windows import Window


class RequestFilter(Spec):
    name: str | None = Field(None, description="exact request name as the locustfile names it")
    name_regex: str | None = Field(None, description="a regular expression the request name must match")
    method: str | None = Field(None, description="the HTTP method (or the request type a custom user records)")

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

    def select(self, table: RequestTable) -> RequestTable:
        """The requests of ``table`` this filter matches (vectorised)."""
        return table.where(name=self.name, method=self.method, name_regex=self.name_regex)

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.model_dump(exclude_none=True).items()]
        return ", ".join(parts) or "all requests"


def as_table(requests: RequestTable | Iterable[Record]) -> RequestTable:
    return requests if isinstance(requests, RequestTable) else RequestTable.from_records(requests)


def select_requests(requests: RequestTable | Iterable[Record], window: Window, flt: RequestFilter | None) -> RequestTable:
    """The requests in ``window`` that ``flt`` matches (all of the window's when ``flt`` is None)."""
    table = window.select(as_table(requests))
    return table if flt is None else flt.select(table)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def request_stats(reqs: RequestTable | Iterable[Record]) -> dict[str, Any]:
    """requests, failed, indeterminate, p50/p95/p99/max in ms (see :meth:`RequestTable.stats`)."""
    return as_table(reqs).stats()


def event_matches(event: Record, match: dict[str, Any]) -> bool:
    return all(event.get(k) == v for k, v in match.items())
