"""inventory: the upstream the app reaches only through its sidecar. The edge the harness faults.

    HOST=127.0.0.1 PORT=8102 PYTHONPATH=../_shared python inventory.py

GET /items/{id} answers the item with its stock; ids are integers 1..10000.
POST /items/{id}/reservations {"ref": str, "qty": int} takes ``qty`` from the item's stock and
answers 201 with the reservation, or 409 when the stock is short. A reservation is not
idempotent: the same request sent twice reserves twice. That is why the sidecar must never
retry it, and why the harness audits the reservations (``GET /audit``) from here: every one
made, with the client's ``ref``, independently of the app and the sidecar. The audit also lists
every call that reached inventory, at arrival (see ledger.py): how many tries the sidecar made.
"""
from __future__ import annotations

import time

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledger import CallLedger
from servicekit import health_route, metrics_route, serve

LOOKUPS = Counter("inventory_lookups_total", "Item lookups answered", ["result"])
RESERVATIONS = Counter("inventory_reservations_total", "Reservation requests answered", ["result"])
ITEMS = 10_000

reserved: dict[int, int] = {}  # item -> quantity reserved so far
reservations: list[dict] = []  # every reservation made, in order: the audited effects
calls = CallLedger()


def initial_stock(item_id: int) -> int:
    return (item_id * 7) % 13 + 500


def stock(item_id: int) -> int:
    return initial_stock(item_id) - reserved.get(item_id, 0)


def _item_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= ITEMS else None


async def get_item(request: Request) -> JSONResponse:
    item_id = _item_id(request.path_params["item_id"])
    if item_id is None:
        LOOKUPS.labels("not_found").inc()
        return JSONResponse({"error": "no such item"}, status_code=404)
    LOOKUPS.labels("found").inc()
    # Deterministic data: the same id always has the same name, so answers can be checked.
    return JSONResponse({"id": item_id, "name": f"item-{item_id}", "stock": stock(item_id)})


async def reserve(request: Request) -> JSONResponse:
    item_id = _item_id(request.path_params["item_id"])
    if item_id is None:
        RESERVATIONS.labels("not_found").inc()
        return JSONResponse({"error": "no such item"}, status_code=404)
    try:
        body = await request.json()
        ref, qty = str(body["ref"]), int(body.get("qty", 1))
    except (ValueError, KeyError, TypeError):
        RESERVATIONS.labels("invalid").inc()
        return JSONResponse({"error": "expected JSON {ref, qty}"}, status_code=422)
    if qty < 1:
        RESERVATIONS.labels("invalid").inc()
        return JSONResponse({"error": "qty must be at least 1"}, status_code=422)
    if stock(item_id) < qty:
        RESERVATIONS.labels("out_of_stock").inc()
        return JSONResponse({"error": "out_of_stock", "item": item_id, "stock": stock(item_id)}, status_code=409)
    reserved[item_id] = reserved.get(item_id, 0) + qty
    reservation = {"ref": ref, "item": item_id, "qty": qty, "stock_left": stock(item_id)}
    reservations.append({**reservation, "t": round(time.time(), 4)})
    RESERVATIONS.labels("reserved").inc()
    return JSONResponse(reservation, status_code=201)


def _state() -> dict:
    return {"reservations": reservations,
            "stock": {str(i): {"initial": initial_stock(i), "reserved": q} for i, q in sorted(reserved.items())}}


app = Starlette(routes=[health_route("inventory"), metrics_route(), Route("/items/{item_id}", get_item, methods=["GET"]),
                        Route("/items/{item_id}/reservations", reserve, methods=["POST"]), calls.audit_route(_state)],
                middleware=[calls.middleware()])

if __name__ == "__main__":
    serve(app, default_port=8102)
