"""One replica of a gateway backend: ``GET /items/{id}`` answers which backend and replica served it.

    HOST=127.0.0.1 PORT=8201 BACKEND=a PYTHONPATH=../_shared python backend.py

Env: BACKEND (the backend this replica belongs to), HARNESS_SERVICE (the replica's name).

The replica records every call that reaches it, at arrival, and answers the record on
``GET /audit`` (see ledger.py): how much traffic the gateway sent it while it was faulted, and
whether traffic came back after it recovered, judged here rather than from the gateway's word.
"""
from __future__ import annotations

import os

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledger import CallLedger
from servicekit import health_route, metrics_route, serve

BACKEND = os.environ.get("BACKEND", "")
REPLICA = os.environ.get("HARNESS_SERVICE", f"backend-{BACKEND}")
if not BACKEND:
    raise SystemExit("set BACKEND to the backend this replica serves (e.g. a)")

SERVED = Counter("backend_items_served_total", "Items served", ["replica"])
calls = CallLedger()


async def get_item(request: Request) -> JSONResponse:
    item_id = request.path_params["item_id"]
    SERVED.labels(REPLICA).inc()
    return JSONResponse({"backend": BACKEND, "replica": REPLICA, "item": {"id": item_id, "name": f"{BACKEND}-item-{item_id}"}})


app = Starlette(routes=[health_route(REPLICA), metrics_route(), Route("/items/{item_id}", get_item, methods=["GET"]),
                        calls.audit_route()], middleware=[calls.middleware()])

if __name__ == "__main__":
    serve(app, default_port=8201)
