"""customers: the domain service. It knows customers only in its own model, and only through
the anti-corruption layer; it trusts what the ACL gives it, which is the ACL's whole job.

    HOST=127.0.0.1 PORT=8200 ACL_URL=http://127.0.0.1:8201 PYTHONPATH=../_shared python customers.py

GET /customers/{id}/standing answers
    200 {"customer": {...domain customer...}, "standing": "good" | "watch" | "inactive"}
    404 {"error": {"code": "customer_not_found", "message": ...}}
    503 {"error": {"code": "customer_record_unavailable", "message": ...}, "degraded": true}
The 503 is the clean domain error for anything the ACL could not vouch for.

Env: ACL_URL, DOMAIN_ACL_TIMEOUT (s, 5: a backstop; the ACL enforces the legacy deadline),
DOMAIN_ACL_CONNECT_TIMEOUT (s, 0.25: connecting to the ACL next door).
"""
from __future__ import annotations

import contextlib
import os
from decimal import Decimal

import httpx
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servicekit import env_float, health_route, metrics_route, serve

ACL_URL = os.environ.get("ACL_URL", "http://127.0.0.1:8201").rstrip("/")
ACL_TIMEOUT = env_float("DOMAIN_ACL_TIMEOUT", 5.0)
# A live ACL next door accepts in well under a millisecond; a dead container's address never
# answers a SYN, and waiting out ACL_TIMEOUT there would hold every caller for 5 s.
ACL_CONNECT_TIMEOUT = env_float("DOMAIN_ACL_CONNECT_TIMEOUT", 0.25)

ANSWERS = Counter("customers_answers_total", "Standing answers", ["result"])

client: httpx.AsyncClient  # created in lifespan, on the server's event loop


def standing(customer: dict) -> str:
    if customer["status"] != "active":
        return "inactive"
    return "watch" if Decimal(customer["balance"]["amount"]) < 0 else "good"


def unavailable(message: str) -> JSONResponse:
    ANSWERS.labels("unavailable").inc()
    return JSONResponse({"error": {"code": "customer_record_unavailable", "message": message}, "degraded": True},
                        status_code=503)


async def get_standing(request: Request) -> JSONResponse:
    customer_id = request.path_params["customer_id"]
    try:
        r = await client.get(f"/customers/{customer_id}")
    except httpx.HTTPError as exc:
        return unavailable(f"the customer record service did not answer ({type(exc).__name__})")
    if r.status_code == 404:
        ANSWERS.labels("not_found").inc()
        return JSONResponse({"error": {"code": "customer_not_found", "message": f"no customer {customer_id}"}},
                            status_code=404)
    if r.status_code != 200:
        return unavailable("the customer record could not be read from the system of record; try again shortly")
    customer = r.json()
    ANSWERS.labels("ok").inc()
    return JSONResponse({"customer": customer, "standing": standing(customer)})


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    async with httpx.AsyncClient(base_url=ACL_URL, timeout=httpx.Timeout(ACL_TIMEOUT, connect=ACL_CONNECT_TIMEOUT)) as client:
        yield


app = Starlette(
    routes=[health_route("customers"), metrics_route(),
            Route("/customers/{customer_id}/standing", get_standing, methods=["GET"])],
    lifespan=lifespan,
)

if __name__ == "__main__":
    serve(app, default_port=8200)
