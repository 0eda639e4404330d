"""gateway: routes ``/<backend>/<path>`` to one of the backend's replicas, with failover and a deadline.

Each request gets DEADLINE seconds in all. An attempt on one replica gets at most
ATTEMPT_TIMEOUT of it; a connection error, a timeout or a 5xx answer is retried on the next
healthy replica while time remains (GETs only: they are safe to repeat). RETRY_ON_5XX=false is
the "no-retry-on-5xx" defect: a replica's 5xx answer is relayed to the client and counts as an
answer, as nginx's default ``proxy_next_upstream error timeout`` does. Replicas that keep
failing are taken out of rotation and probed every REPROBE_INTERVAL until they answer again
(see replicas.py). When no attempt succeeds the answer is 504 (deadline spent) or 502.

    HOST=127.0.0.1 PORT=8200 ROUTES="a=backend-a1,backend-a2" BACKEND_A1_URL=... BACKEND_A2_URL=... \
        PYTHONPATH=../_shared python gateway.py

Env: ROUTES; <REPLICA>_URL per replica; DEADLINE (s, 1.0; 0 = none: the "no-deadline" defect,
which also drops the per-attempt timeout); ATTEMPT_TIMEOUT (s, 0.4); FAILOVER (true; false is
the "no-failover" defect); RETRY_ON_5XX (true); FAILURE_THRESHOLD (2); REPROBE_INTERVAL (s, 1.0);
PROBE_TIMEOUT (s, 0.3).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time

import httpx
from prometheus_client import Counter, Gauge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from replicas import Replica, ReplicaPool, env_name, parse_routes
from servicekit import emit_event, env_flag, env_float, env_int, health_route, metrics_route, serve

DEADLINE = env_float("DEADLINE", 1.0)
ATTEMPT_TIMEOUT = env_float("ATTEMPT_TIMEOUT", 0.4)
FAILOVER = env_flag("FAILOVER", True)
RETRY_ON_5XX = env_flag("RETRY_ON_5XX", True)
REPROBE_INTERVAL = env_float("REPROBE_INTERVAL", 1.0)
PROBE_TIMEOUT = env_float("PROBE_TIMEOUT", 0.3)

ATTEMPTS = Counter("gateway_attempts_total", "Attempts on a replica", ["replica", "outcome"])
ANSWERS = Counter("gateway_answers_total", "Answers to clients", ["backend", "status"])
REPLICA_UP = Gauge("gateway_replica_up", "1 while a replica is in rotation", ["replica"])

ROUTES = parse_routes(os.environ.get("ROUTES", ""), lambda name: os.environ.get(env_name(name)))
pools = {backend: ReplicaPool(backend, replicas, failure_threshold=env_int("FAILURE_THRESHOLD", 2), failover=FAILOVER)
         for backend, replicas in ROUTES.items()}
client: httpx.AsyncClient


def _on_change(pool: ReplicaPool):
    def listener(replica: Replica, state: str, reason: str) -> None:
        emit_event("replica_state", backend=pool.backend, replica=replica.name, state=state, reason=reason)
        REPLICA_UP.labels(replica.name).set(1 if state == "up" else 0)
    return listener


for _pool in pools.values():
    _pool.add_listener(_on_change(_pool))
    for _r in _pool.replicas:
        REPLICA_UP.labels(_r.name).set(1)


class ReplicaFailed(Exception):
    """The replica answered 5xx: it is unhealthy, try another one."""


async def route(request: Request) -> Response:
    pool = pools.get(request.path_params["backend"])
    if pool is None:
        return JSONResponse({"error": f"no backend '{request.path_params['backend']}'", "backends": sorted(pools)}, 404)
    path = "/" + request.path_params["path"] + (f"?{request.url.query}" if request.url.query else "")
    started = time.monotonic()
    attempts: list[dict] = []
    for replica in pool.attempt_order():
        timeout = None
        if DEADLINE > 0:
            remaining = DEADLINE - (time.monotonic() - started)
            if remaining <= 0.001:
                break
            timeout = min(ATTEMPT_TIMEOUT, remaining)
        attempt_started = time.monotonic()
        try:
            upstream = await _attempt(replica, path, timeout)
        except (httpx.HTTPError, TimeoutError, ReplicaFailed, OSError) as exc:
            outcome = "timeout" if isinstance(exc, (TimeoutError, httpx.TimeoutException)) else "error"
            attempts.append({"replica": replica.name, "outcome": outcome, "error": f"{type(exc).__name__}: {exc}"[:160],
                             "ms": round((time.monotonic() - attempt_started) * 1000, 1)})
            ATTEMPTS.labels(replica.name, outcome).inc()
            pool.record(replica, ok=False)
            continue
        ATTEMPTS.labels(replica.name, "ok").inc()
        pool.record(replica, ok=True)
        ANSWERS.labels(pool.backend, str(upstream.status_code)).inc()
        headers = {"x-gateway-replica": replica.name, "x-gateway-attempts": str(len(attempts) + 1)}
        return Response(upstream.content, upstream.status_code, headers=headers,
                        media_type=upstream.headers.get("content-type"))
    spent = DEADLINE > 0 and time.monotonic() - started >= DEADLINE - 0.001
    status = 504 if spent else 502
    ANSWERS.labels(pool.backend, str(status)).inc()
    error = f"gateway deadline of {DEADLINE:g}s exceeded" if spent else "no replica answered"
    return JSONResponse({"error": error, "backend": pool.backend, "attempts": attempts}, status_code=status)


async def _attempt(replica: Replica, path: str, timeout: float | None) -> httpx.Response:
    if timeout is None:
        response = await client.get(replica.url + path)
    else:
        # asyncio.timeout bounds the whole attempt; httpx's timeouts are per phase.
        async with asyncio.timeout(timeout):
            response = await client.get(replica.url + path)
    if response.status_code >= 500 and RETRY_ON_5XX:
        raise ReplicaFailed(f"HTTP {response.status_code}")
    return response


async def probe_down_replicas() -> None:
    """Re-check replicas that are out of rotation; one that answers /health is back in."""
    while True:
        await asyncio.sleep(REPROBE_INTERVAL)
        for pool in pools.values():
            for replica in pool.down():
                try:
                    async with asyncio.timeout(PROBE_TIMEOUT):
                        r = await client.get(replica.url + "/health")
                    if r.status_code == 200:
                        pool.mark_up(replica)
                except (httpx.HTTPError, TimeoutError, OSError):
                    pass  # still down; try again next round


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    # No client timeout with the defect: a slow replica is waited on for as long as it takes.
    timeout = httpx.Timeout(5.0) if DEADLINE > 0 else None
    async with httpx.AsyncClient(timeout=timeout) as client:
        prober = asyncio.create_task(probe_down_replicas()) if FAILOVER else None
        try:
            yield
        finally:
            if prober is not None:
                prober.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await prober


app = Starlette(routes=[health_route("gateway"), metrics_route(),
                        Route("/{backend}/{path:path}", route, methods=["GET"])], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8200)
