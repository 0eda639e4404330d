"""orders: orders, in the orders database. Placing an order also needs users and catalog.

    GET  /orders/{id}   -> the order                  (needs only the orders database)
    POST /orders {"user_id", "product_id", "quantity"} -> the order, priced
                        (needs users and catalog over HTTP, then the orders database)

Env: DATABASE_URL, USERS_URL, CATALOG_URL, UPSTREAM_TIMEOUT (s, 1.0).
"""
from __future__ import annotations

import asyncio
import contextlib
import os

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dbservice import Unavailable, fetch, make_app, unavailable
from servicekit import env_float, serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id bigserial PRIMARY KEY, user_id int NOT NULL, product_id int NOT NULL, quantity int NOT NULL,
    total_cents bigint NOT NULL
);
INSERT INTO orders (id, user_id, product_id, quantity, total_cents)
SELECT g, g, g, 1, 100 FROM generate_series(1, 50) g ON CONFLICT DO NOTHING;
SELECT setval(pg_get_serial_sequence('orders', 'id'), GREATEST((SELECT max(id) FROM orders), 1));
"""

USERS_URL = os.environ.get("USERS_URL", "http://127.0.0.1:8202").rstrip("/")
CATALOG_URL = os.environ.get("CATALOG_URL", "http://127.0.0.1:8201").rstrip("/")
UPSTREAM_TIMEOUT = env_float("UPSTREAM_TIMEOUT", 1.0)
client: httpx.AsyncClient


def _order(row: tuple) -> dict:
    return dict(zip(("id", "user_id", "product_id", "quantity", "total_cents"), row))


async def get_order(request: Request) -> JSONResponse:
    try:
        row = await fetch("SELECT id, user_id, product_id, quantity, total_cents FROM orders WHERE id = %s",
                          (int(request.path_params["id"]),))
    except Unavailable as exc:
        return unavailable(exc)
    if row is None:
        return JSONResponse({"error": "no such order"}, status_code=404)
    return JSONResponse(_order(row))


async def _lookup(service: str, url: str) -> dict:
    try:
        async with asyncio.timeout(UPSTREAM_TIMEOUT):
            resp = await client.get(url)
    except (httpx.HTTPError, TimeoutError) as exc:
        raise Unavailable(f"{service}: {type(exc).__name__}") from exc
    if resp.status_code == 404:
        raise LookupError(f"{service}: not found")
    if resp.status_code != 200:
        raise Unavailable(f"{service}: HTTP {resp.status_code}")
    return resp.json()


async def place_order(request: Request) -> JSONResponse:
    try:
        body = await request.json()
        user_id, product_id, quantity = int(body["user_id"]), int(body["product_id"]), int(body.get("quantity", 1))
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON {user_id, product_id, quantity}"}, status_code=422)
    try:
        _, product = await asyncio.gather(_lookup("users", f"{USERS_URL}/users/{user_id}"),
                                          _lookup("catalog", f"{CATALOG_URL}/products/{product_id}"))
        row = await fetch("INSERT INTO orders (user_id, product_id, quantity, total_cents) VALUES (%s, %s, %s, %s) "
                          "RETURNING id, user_id, product_id, quantity, total_cents",
                          (user_id, product_id, quantity, quantity * int(product["price_cents"])))
    except LookupError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    except Unavailable as exc:
        return unavailable(exc)
    return JSONResponse(_order(row))


@contextlib.asynccontextmanager
async def http_client():
    global client
    async with httpx.AsyncClient() as client:
        yield


app = make_app("orders", SCHEMA, [Route("/orders/{id:int}", get_order, methods=["GET"]),
                                  Route("/orders", place_order, methods=["POST"])],
               count_sql="SELECT count(*) FROM orders", resources=http_client)

if __name__ == "__main__":
    serve(app, default_port=8203)
