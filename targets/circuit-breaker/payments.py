"""payments: charges orders. The upstream that the harness faults (through Toxiproxy).

    HOST=127.0.0.1 PORT=8002 PYTHONPATH=../_shared python payments.py
"""
from __future__ import annotations

import uuid

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servicekit import health_route, metrics_route, serve

CHARGES = Counter("payments_charges_total", "Charge requests answered", ["result"])

# order_id -> charge. Charging is idempotent per order, so a caller that retries after
# a timeout (the answer was lost, not the charge) never charges twice.
charges: dict[str, dict] = {}


async def charge(request: Request) -> JSONResponse:
    try:
        body = await request.json()
        order_id = str(body["order_id"])
        amount = float(body["amount"])
    except (ValueError, KeyError, TypeError):
        CHARGES.labels("invalid").inc()
        return JSONResponse({"error": "expected JSON {order_id, amount}"}, status_code=422)
    if amount <= 0:
        CHARGES.labels("invalid").inc()
        return JSONResponse({"error": "amount must be positive"}, status_code=422)
    existing = charges.get(order_id)
    if existing is not None:
        CHARGES.labels("duplicate").inc()
        return JSONResponse(existing)
    result = {"status": "charged", "charge_id": uuid.uuid4().hex, "order_id": order_id, "amount": amount}
    charges[order_id] = result
    CHARGES.labels("charged").inc()
    return JSONResponse(result)


app = Starlette(routes=[health_route("payments"), metrics_route(), Route("/charge", charge, methods=["POST"])])

if __name__ == "__main__":
    serve(app, default_port=8002)
