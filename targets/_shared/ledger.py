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

Effects a service keeps besides (charges, reservations) go in the same answer through
``state``; the manifest's ``audits:`` read them again once the system has gone quiet (the
harness's quiescence), so background work such as a sweep is done before they are judged.

The record is in memory and bounded (``limit`` calls; later ones are counted, not kept):
these are test targets, and a run lasts minutes.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

State = Callable[[], dict[str, Any]]


class CallLedger:
    def __init__(self, limit: int = 500_000):
        self.limit = limit
        self.calls: list[tuple[float, str, str]] = []
        self.dropped = 0

    def record(self, method: str, path: str) -> None:
        if len(self.calls) < self.limit:
            self.calls.append((round(time.time(), 4), method, path))
        else:
            self.dropped += 1

    def middleware(self) -> Middleware:
        return Middleware(_Recorder, ledger=self)

    def audit(self, state: State | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"calls": self.calls, "calls_dropped": self.dropped}
        if state is not None:
            out.update(state())
        return out

    def audit_route(self, state: State | None = None, path: str = "/audit") -> Route:
        async def audit(request: Request) -> JSONResponse:
            return JSONResponse(self.audit(state))

        return Route(path, audit, methods=["GET"])


class _Recorder:
    """Pure ASGI, so the time recorded is the arrival, not the answer."""

    def __init__(self, app: ASGIApp, ledger: CallLedger):
        self.app, self.ledger = app, ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.ledger.record(scope["method"], scope["path"])
        await self.app(scope, receive, send)
