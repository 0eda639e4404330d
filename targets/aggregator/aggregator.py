"""aggregator: one dashboard endpoint fanned out to profile, orders and loyalty.

Each part gets PART_DEADLINE seconds. A part that errs or is late is left out, and the
answer says so: ``parts`` holds each part's status, ``missing`` lists the parts left out and
``partial`` is true when any is. Only when no part answers is the answer an error (503).

    HOST=127.0.0.1 PORT=8100 PROFILE_URL=... ORDERS_URL=... LOYALTY_URL=... PYTHONPATH=../_shared python aggregator.py

Env: PROFILE_URL, ORDERS_URL, LOYALTY_URL; PART_DEADLINE (s, 0.5);
WAIT_FOR_ALL (false): the "wait-for-all" defect: no deadline, and any missing part fails the
whole answer (502), as a naive aggregator that needs every part would.
"""
from __future__ import annotations

import contextlib
import os

import httpx
from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fanout import PartStatusTracker, envelope, fetch_json, gather_parts
from servicekit import env_flag, env_float, health_route, metrics_route, serve

PART_URLS = {name: os.environ.get(f"{name.upper()}_URL", "").rstrip("/") for name in ("profile", "orders", "loyalty")}
PART_DEADLINE = env_float("PART_DEADLINE", 0.5)
WAIT_FOR_ALL = env_flag("WAIT_FOR_ALL", False)
if not all(PART_URLS.values()):
    raise SystemExit("set PROFILE_URL, ORDERS_URL and LOYALTY_URL")

ANSWERS = Counter("aggregator_answers_total", "Dashboard answers", ["result"])
PARTS = Counter("aggregator_parts_total", "Part fetches", ["part", "status"])
LATENCY = Histogram("aggregator_answer_seconds", "Time to answer a dashboard")

tracker = PartStatusTracker()
client: httpx.AsyncClient


async def dashboard(request: Request) -> JSONResponse:
    user_id = request.path_params["user_id"]
    with LATENCY.time():
        calls = {name: (lambda u=url, n=name: fetch_json(client, f"{u}/{n}/{user_id}", key=n))
                 for name, url in PART_URLS.items()}
        parts = await gather_parts(calls, deadline=None if WAIT_FOR_ALL else PART_DEADLINE)
    tracker.observe(parts)
    for name, part in parts.items():
        PARTS.labels(name, part.status).inc()
    body = {"user_id": user_id, **{name: part.data for name, part in parts.items()}, **envelope(parts)}
    if body["partial"] and WAIT_FOR_ALL:
        ANSWERS.labels("failed").inc()
        return JSONResponse({"error": "a part is missing", **envelope(parts)}, status_code=502)
    if all(not p.ok for p in parts.values()):
        ANSWERS.labels("failed").inc()
        return JSONResponse({"error": "no part answered", **envelope(parts)}, status_code=503)
    ANSWERS.labels("partial" if body["partial"] else "complete").inc()
    return JSONResponse(body)


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    # No client timeout with the defect: it waits for every part as long as it takes.
    timeout = None if WAIT_FOR_ALL else httpx.Timeout(5.0)
    async with httpx.AsyncClient(timeout=timeout) as client:
        yield


app = Starlette(routes=[health_route("aggregator"), metrics_route(),
                        Route("/dashboard/{user_id}", dashboard, methods=["GET"])], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8100)
