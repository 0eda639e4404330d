"""app: the product service. It calls inventory only through its sidecar (SIDECAR_URL), and
leaves timeouts and retries to the sidecar: that is the sidecar pattern.

    HOST=127.0.0.1 PORT=8100 SIDECAR_URL=http://127.0.0.1:8101 PYTHONPATH=../_shared python app.py

GET /products/{id} answers 200 with the product, 404 for an unknown id, or 503 with
``{"error": ..., "degraded": true}`` when inventory cannot be reached (the sidecar gave up)
or the sidecar itself is gone. The latter must be fast: a local sidecar that refuses
connections is not going to answer in a moment, and neither is one whose address stays
silent (a dead container's, or a sidecar too overloaded to accept): a connect to a live
sidecar next to the app completes in well under a millisecond, so one that has not within
APP_SIDECAR_CONNECT_TIMEOUT means the sidecar is gone. The sidecar's own work (retries within
its budget) may take a second, so only the connect can tell "gone" from "busy".

POST /products/{id}/reservations ``{"ref": ..., "qty": 1}`` reserves stock at inventory (through
the sidecar, which never retries it: a reservation is not idempotent). 201 with the
reservation, 409 when the stock is short, or the same 503 when the outcome is unknown.

GET /products/{id}/info answers the product's catalog entry from the app's own memory: a path
that needs no upstream, and must not suffer when the upstream does.

Env: SIDECAR_URL, APP_SIDECAR_CONNECT_TIMEOUT (s, 0.1), APP_BACKSTOP_TIMEOUT (s, 10: only for
a sidecar that hangs after accepting; the sidecar enforces the real deadlines),
APP_SIDECAR_WAIT (s, 0; > 0 is the "app-waits-for-sidecar" defect: the app keeps retrying an
unreachable sidecar for that long instead of failing fast).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time

import httpx
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servicekit import env_float, health_route, metrics_route, serve

SIDECAR_URL = os.environ.get("SIDECAR_URL", "http://127.0.0.1:8101").rstrip("/")
BACKSTOP_TIMEOUT = env_float("APP_BACKSTOP_TIMEOUT", 10.0)
CONNECT_TIMEOUT = env_float("APP_SIDECAR_CONNECT_TIMEOUT", 0.1)
SIDECAR_WAIT = env_float("APP_SIDECAR_WAIT", 0.0)

ANSWERS = Counter("app_answers_total", "Product answers", ["result"])

client: httpx.AsyncClient  # created in lifespan, on the server's event loop


class SidecarGone(Exception):
    """The sidecar did not take the request (refused, closed, or never answered)."""


async def via_sidecar(path: str, method: str = "GET", **kwargs) -> httpx.Response:
    deadline = time.monotonic() + SIDECAR_WAIT
    while True:
        try:
            return await client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            if time.monotonic() >= deadline:
                raise SidecarGone(f"{type(exc).__name__}: {exc}") from exc
            await asyncio.sleep(0.1)  # the defect: wait for the sidecar to come back


def degraded(error: str, detail: str, **extra) -> JSONResponse:
    ANSWERS.labels(error).inc()
    return JSONResponse({"error": error, "degraded": True, "detail": detail, **extra}, status_code=503)


async def get_product(request: Request) -> JSONResponse:
    product_id = request.path_params["product_id"]
    try:
        r = await via_sidecar(f"/items/{product_id}")
    except SidecarGone as exc:
        return degraded("sidecar_unavailable", str(exc))
    attempts = int(r.headers.get("x-sidecar-attempts", "0") or 0)
    if r.status_code == 404:
        ANSWERS.labels("not_found").inc()
        return JSONResponse({"error": "no such product"}, status_code=404)
    if r.status_code != 200:
        return degraded("inventory_unavailable", f"sidecar answered {r.status_code}", attempts=attempts)
    try:
        item = r.json()
        product = {"id": str(item["id"]), "name": str(item["name"]), "stock": int(item["stock"])}
    except (ValueError, KeyError, TypeError):
        return degraded("inventory_unavailable", "inventory answered an unreadable item", attempts=attempts)
    ANSWERS.labels("ok").inc()
    return JSONResponse({**product, "in_stock": product["stock"] > 0, "attempts": attempts})


async def reserve(request: Request) -> JSONResponse:
    product_id = request.path_params["product_id"]
    try:
        body = await request.json()
        ref, qty = str(body["ref"]), int(body.get("qty", 1))
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON {ref, qty}"}, status_code=422)
    try:
        r = await via_sidecar(f"/items/{product_id}/reservations", method="POST", json={"ref": ref, "qty": qty})
    except SidecarGone as exc:
        return degraded("sidecar_unavailable", str(exc))
    if r.status_code in (404, 409):
        ANSWERS.labels("not_found" if r.status_code == 404 else "out_of_stock").inc()
        return JSONResponse({"error": "no such product" if r.status_code == 404 else "out of stock"},
                            status_code=r.status_code)
    if r.status_code != 201:
        # The sidecar gave up: the reservation may or may not have been made.
        return degraded("inventory_unavailable", f"sidecar answered {r.status_code}; the reservation may not "
                        "have been made")
    try:
        made = r.json()
        reservation = {"ref": str(made["ref"]), "product": str(made["item"]), "qty": int(made["qty"])}
    except (ValueError, KeyError, TypeError):
        return degraded("inventory_unavailable", "inventory answered an unreadable reservation")
    ANSWERS.labels("reserved").inc()
    return JSONResponse({**reservation, "reserved": True}, status_code=201)


async def product_info(request: Request) -> JSONResponse:
    raw = request.path_params["product_id"]
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        return JSONResponse({"error": "no such product"}, status_code=404)
    n = int(raw)
    return JSONResponse({"id": raw, "name": f"item-{n}", "price": round(1 + n % 97 + 0.49, 2)})


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    timeout = httpx.Timeout(BACKSTOP_TIMEOUT, connect=CONNECT_TIMEOUT)
    async with httpx.AsyncClient(base_url=SIDECAR_URL, timeout=timeout) as client:
        yield


app = Starlette(
    routes=[health_route("app"), metrics_route(), Route("/products/{product_id}", get_product, methods=["GET"]),
            Route("/products/{product_id}/reservations", reserve, methods=["POST"]),
            Route("/products/{product_id}/info", product_info, methods=["GET"])],
    lifespan=lifespan,
)

if __name__ == "__main__":
    serve(app, default_port=8100)
