"""inventory: the upstream the app reaches only through its sidecar. The edge the harness faults.

    HOST=127.0.0.1 PORT=8102 PYTHONPATH=../_shared python inventory.py

GET /items/{id} answers the item with its stock; ids are integers 1..10000.
"""
from __future__ import annotations

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servicekit import health_route, metrics_route, serve

LOOKUPS = Counter("inventory_lookups_total", "Item lookups answered", ["result"])


async def get_item(request: Request) -> JSONResponse:
    raw = request.path_params["item_id"]
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        LOOKUPS.labels("not_found").inc()
        return JSONResponse({"error": "no such item"}, status_code=404)
    item_id = int(raw)
    LOOKUPS.labels("found").inc()
    # Deterministic data: the same id always has the same stock, so answers can be compared.
    return JSONResponse({"id": item_id, "name": f"item-{item_id}", "stock": (item_id * 7) % 13})


app = Starlette(routes=[health_route("inventory"), metrics_route(), Route("/items/{item_id}", get_item, methods=["GET"])])

if __name__ == "__main__":
    serve(app, default_port=8102)
