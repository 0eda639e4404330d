"""Fan out to several upstream parts at once, each under its own deadline, and say what came back.

The aggregator and both BFFs build their answers with this: every part is fetched
concurrently; a part that errs or outlives its deadline is *missing*, and the answer says
which parts are missing and why instead of failing as a whole or waiting for the slowest.

    parts = await gather_parts({"profile": lambda: fetch_json(client, url)}, deadline=0.5)
    envelope(parts)  ->  {"parts": {"profile": {"status": "ok", "ms": 3.2}}, "partial": false, "missing": []}

``deadline=None`` waits for every part for as long as it takes: the defect that the
experiments catch.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx

from servicekit import emit_event

OK, TIMEOUT, ERROR = "ok", "timeout", "error"
Call = Callable[[], Awaitable[Any]]


class UpstreamError(Exception):
    """The part answered, but not with something usable (5xx, 4xx, a body that is not JSON)."""


@dataclass
class Part:
    name: str
    status: str  # ok | timeout | error
    ms: float
    data: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "ms": round(self.ms, 1)}
        if self.error:
            out["error"] = self.error
        return out


async def fetch_json(client: httpx.AsyncClient, url: str, key: str | None = None) -> Any:
    """GET a JSON document (or its ``key``); anything but a 2xx answer with that JSON raises."""
    response = await client.get(url)
    if response.status_code >= 300:
        raise UpstreamError(f"HTTP {response.status_code}")
    try:
        doc = response.json()
    except ValueError:
        raise UpstreamError("answer is not valid JSON") from None
    if key is None:
        return doc
    if not isinstance(doc, dict) or key not in doc:
        raise UpstreamError(f"answer has no '{key}'")
    return doc[key]


async def _one(name: str, call: Call, deadline: float | None) -> Part:
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    try:
        if deadline is None:
            data = await call()
        else:
            # asyncio.timeout bounds the whole call; httpx's own timeouts are per phase
            # (connect, read, ...) and could add up to several times the deadline.
            async with asyncio.timeout(deadline):
                data = await call()
    except (TimeoutError, httpx.TimeoutException):
        return Part(name, TIMEOUT, elapsed(), error=f"no answer within {deadline}s" if deadline else "timed out")
    except (httpx.HTTPError, UpstreamError, OSError) as exc:
        return Part(name, ERROR, elapsed(), error=f"{type(exc).__name__}: {exc}"[:200])
    return Part(name, OK, elapsed(), data=data)


async def gather_parts(calls: dict[str, Call], deadline: float | None) -> dict[str, Part]:
    """Run every call concurrently; each gets ``deadline`` seconds (None: no limit)."""
    results = await asyncio.gather(*(_one(name, call, deadline) for name, call in calls.items()))
    return {p.name: p for p in results}


def envelope(parts: dict[str, Part]) -> dict[str, Any]:
    """The per-part status block every answer carries, partial or not."""
    missing = sorted(name for name, p in parts.items() if not p.ok)
    return {"parts": {name: p.describe() for name, p in parts.items()}, "partial": bool(missing), "missing": missing}


class PartStatusTracker:
    """Emits a ``part_status`` target event when a part's status changes, not on every answer.

    The harness's event checks ("the part was marked missing within 2 s of the fault") need
    the transitions; one event per answer would flood the journal.
    """

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def observe(self, parts: dict[str, Part]) -> None:
        for name, part in parts.items():
            previous = self._last.get(name, OK)
            if part.status != previous:
                self._last[name] = part.status
                emit_event("part_status", part=name, status=part.status, previous=previous, error=part.error)
