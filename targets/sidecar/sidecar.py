"""sidecar: the app's outbound proxy. Every request it gets goes to UPSTREAM_URL with a
per-try timeout, retries with backoff, and a total budget; the app itself does none of that.

    HOST=127.0.0.1 PORT=8101 UPSTREAM_URL=http://127.0.0.1:8102 PYTHONPATH=../_shared python sidecar.py

What is retried: idempotent methods only, on a connection error, a reset, a timeout of the
try, or a 502/503/504 from the upstream. When the tries run out the sidecar answers 504
(time ran out) or 502 (the upstream kept failing) with a JSON body saying why; the header
``x-sidecar-attempts`` always says how many tries were made.

Each try opens a fresh upstream connection (no keep-alive pool). Faults and real failures are
often per connection (Toxiproxy draws ``toxicity`` once per TCP connection; a half-dead
connection stays dead): a retry on the same pooled connection would meet the same fault again.

The sidecar's own endpoints live under ``/_sidecar/`` (health, metrics) so that every other
path belongs to the app's traffic.

Env: UPSTREAM_URL, SIDECAR_TRY_TIMEOUT (s, 0.2), SIDECAR_BUDGET (s, 1.0), SIDECAR_ATTEMPTS (4),
SIDECAR_BACKOFF_BASE (s, 0.02), SIDECAR_BACKOFF_MAX (s, 0.2),
SIDECAR_RETRIES (true; false = the "no-retries" defect: one try only),
SIDECAR_TIMEOUTS (true; false = the "no-timeout" defect: no per-try timeout and no budget).
"""
from __future__ import annotations

import asyncio
import contextlib
import os

import httpx
from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retrying import GaveUp, RetryPolicy, call_with_retries
from servicekit import emit_event, env_flag, env_float, env_int, health_route, metrics_route, serve

UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:8102").rstrip("/")
RETRIES = env_flag("SIDECAR_RETRIES", True)
TIMEOUTS = env_flag("SIDECAR_TIMEOUTS", True)
POLICY = RetryPolicy(
    attempts=env_int("SIDECAR_ATTEMPTS", 4) if RETRIES else 1,
    try_timeout=env_float("SIDECAR_TRY_TIMEOUT", 0.2) if TIMEOUTS else None,
    budget=env_float("SIDECAR_BUDGET", 1.0) if TIMEOUTS else None,
    backoff_base=env_float("SIDECAR_BACKOFF_BASE", 0.02),
    backoff_max=env_float("SIDECAR_BACKOFF_MAX", 0.2),
)
IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
RETRY_STATUSES = {502, 503, 504}
# Request headers that describe this hop, not the request: never forwarded.
HOP_HEADERS = {"host", "connection", "keep-alive", "content-length", "transfer-encoding", "te", "upgrade",
               "proxy-connection", "proxy-authorization"}

TRIES = Counter("sidecar_tries_total", "Upstream tries", ["outcome"])
CALLS = Counter("sidecar_calls_total", "Calls proxied", ["result"])
CALL_SECONDS = Histogram("sidecar_call_seconds", "Time from request to answer, retries included")

client: httpx.AsyncClient  # created in lifespan, on the server's event loop


def is_transient(outcome: object) -> bool:
    if isinstance(outcome, httpx.Response):
        return outcome.status_code in RETRY_STATUSES
    # Transport errors: refused, reset, closed mid-answer. Not httpx.HTTPStatusError and the like.
    return isinstance(outcome, httpx.TransportError)


async def proxy(request: Request) -> Response:
    body = await request.body()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
    url = UPSTREAM_URL + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    policy = POLICY if request.method in IDEMPOTENT else RetryPolicy(1, POLICY.try_timeout, POLICY.budget)

    async def one_try() -> httpx.Response:
        try:
            answer = await client.request(request.method, url, content=body, headers=headers)
        except asyncio.CancelledError:
            TRIES.labels("timeout").inc()  # the try's (or the budget's) timeout cut it
            raise
        except Exception as exc:
            TRIES.labels(type(exc).__name__).inc()
            raise
        TRIES.labels(str(answer.status_code)).inc()
        return answer

    with CALL_SECONDS.time():
        try:
            upstream, tries = await call_with_retries(one_try, policy, is_transient)
        except GaveUp as exc:
            CALLS.labels(f"gave_up_{exc.reason}").inc()
            status = 504 if exc.reason in ("timeout", "budget") else 502
            return JSONResponse({"error": "upstream_unavailable", "reason": exc.reason, "attempts": exc.attempts,
                                 "detail": str(exc)}, status_code=status, headers={"x-sidecar-attempts": str(exc.attempts)})
        except httpx.HTTPError as exc:  # not retryable (e.g. an invalid URL): report, do not crash
            CALLS.labels("error").inc()
            return JSONResponse({"error": "upstream_error", "detail": f"{type(exc).__name__}: {exc}"}, status_code=502,
                                headers={"x-sidecar-attempts": "1"})
    CALLS.labels("answered").inc()
    out_headers = {"x-sidecar-attempts": str(tries)}
    if "content-type" in upstream.headers:
        out_headers["content-type"] = upstream.headers["content-type"]
    return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    # timeout=None: the RetryPolicy's asyncio timeouts bound each try and the whole call.
    # max_keepalive_connections=0: a fresh connection per try (see the module docstring).
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=None, limits=limits) as client:
        # No configuration in the event: a record must not reveal which defect is switched on.
        emit_event("sidecar_started")
        yield


app = Starlette(
    routes=[
        health_route("sidecar", "/_sidecar/health"),
        metrics_route("/_sidecar/metrics"),
        Route("/{path:path}", proxy, methods=["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"]),
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    serve(app, default_port=8101)
