"""A participant's own record of what reached it: every request at arrival, and its audit route.

Checks about effects must not believe the component under test. A backend behind a gateway,
a payments service behind a breaker, an upstream behind a sidecar: each records every request
it receives (time, method, path) at arrival, before any handler runs, and answers the whole
record on its audit path when the run is over. The harness fetches it into the journal
(``audit:`` in the manifest) and checks count from it how much load a mechanism let through
to the faulted dependency (amplification), or which writes were applied and how often.

    ledger = CallLedger()
    app = Starlette(routes=[..., ledger.audit_route(lambda: {"charges": charges})],
                    middleware=[ledger.middleware()])

The audit is taken after quiescence: ``GET /audit?quiet=2&max_wait=8`` answers once no call
(other than health checks, metrics scrapes and audits) has arrived for 2 s, or after 8 s at
most, saying which (``quiet_for_s``). A system that finishes work in the background after its
load stops (a sweep charging pending orders) is audited when that work is done, without a
fixed sleep that is too short on a busy machine and too long on an idle one.

The record is in memory and bounded (``limit`` calls; later ones are counted, not kept):
these are test targets, and a run lasts minutes.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

State = Callable[[], dict[str, Any]]
# Calls that are not work: the harness's and Prometheus's own, and the audit itself.
PASSIVE = ("/health", "/metrics", "/audit", "/_sidecar/health", "/_sidecar/metrics")


class CallLedger:
    def __init__(self, limit: int = 500_000):
        self.limit = limit
        self.calls: list[tuple[float, str, str]] = []
        self.dropped = 0
        self.last_work = time.monotonic()

    def record(self, method: str, path: str) -> None:
        if path not in PASSIVE:
            self.last_work = time.monotonic()
        if len(self.calls) < self.limit:
            self.calls.append((round(time.time(), 4), method, path))
        else:
            self.dropped += 1

    async def quiesce(self, quiet: float, max_wait: float) -> float:
        """Wait until no work has arrived for ``quiet`` seconds (``max_wait`` at most); return the quiet time."""
        deadline = time.monotonic() + max_wait
        while (idle := time.monotonic() - self.last_work) < quiet and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, quiet - idle))
        return round(time.monotonic() - self.last_work, 3)

    def middleware(self) -> Middleware:
        return Middleware(_Recorder, ledger=self)

    def audit(self, state: State | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"calls": self.calls, "calls_dropped": self.dropped}
        if state is not None:
            out.update(state())
        return out

    def audit_route(self, state: State | None = None, path: str = "/audit") -> Route:
        async def audit(request: Request) -> JSONResponse:
            try:
                quiet = float(request.query_params.get("quiet", 0))
                max_wait = float(request.query_params.get("max_wait", 8))
            except ValueError:
                return JSONResponse({"error": "quiet and max_wait are seconds"}, status_code=400)
            quiet_for = await self.quiesce(quiet, max_wait) if quiet > 0 else None
            return JSONResponse({**self.audit(state), "quiet_for_s": quiet_for})

        return Route(path, audit, methods=["GET"])


class _Recorder:
    """Pure ASGI, so the time recorded is the arrival, not the answer."""

    def __init__(self, app: ASGIApp, ledger: CallLedger):
        self.app, self.ledger = app, ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.ledger.record(scope["method"], scope["path"])
        await self.app(scope, receive, send)
