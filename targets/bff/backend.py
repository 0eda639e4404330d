"""A backend behind the BFFs: ``catalog``, ``reviews`` or ``recommendations`` (KIND; the manifest
passes the service name). Deterministic data per product id, so answers can be checked.

    GET /products/{id}          catalog           {"product": {...}}
    GET /reviews/{id}           reviews           {"reviews": [...]}
    GET /recommendations/{id}   recommendations   {"recommendations": [ids]}

    HOST=127.0.0.1 PORT=8301 KIND=catalog PYTHONPATH=../_shared python backend.py

Each backend records every call that reaches it, at arrival, and answers the record on
``GET /audit`` (see ledger.py): the load the BFFs put on it, judged here.
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


def product(pid: int) -> dict:
    return {"product": {"id": pid, "name": f"Product {pid}", "price": round(5 + pid % 200 + 0.99, 2),
                        "description": f"Product {pid} is a fine product. " * 4,
                        "images": [f"https://img.example.test/{pid}/{n}.jpg" for n in range(3)],
                        "specs": {"weight_g": 100 + pid % 900, "colour": ("red", "green", "blue")[pid % 3]}}}


def reviews(pid: int) -> dict:
    return {"reviews": [{"author": f"reader{pid + n}", "rating": 1 + (pid + n) % 5, "text": f"Review {n} of {pid}"}
                        for n in range(pid % 5 + 1)]}


def recommendations(pid: int) -> dict:
    return {"recommendations": [(pid * 7 + n) % 1000 for n in range(1, 6)]}


KINDS = {"catalog": ("/products/{pid:int}", product), "reviews": ("/reviews/{pid:int}", reviews),
         "recommendations": ("/recommendations/{pid:int}", recommendations)}
KIND = os.environ.get("KIND") or os.environ.get("HARNESS_SERVICE", "")
if KIND not in KINDS:
    raise SystemExit(f"KIND={KIND!r}: expected one of {', '.join(KINDS)}")
PATH, RENDER = KINDS[KIND]
SERVED = Counter("bff_backend_answers_total", "Answers served", ["kind"])
calls = CallLedger()


async def answer(request: Request) -> JSONResponse:
    SERVED.labels(KIND).inc()
    return JSONResponse(RENDER(request.path_params["pid"]))


app = Starlette(routes=[health_route(KIND), metrics_route(), Route(PATH, answer, methods=["GET"]), calls.audit_route()],
                middleware=[calls.middleware()])

if __name__ == "__main__":
    serve(app, default_port=8301)
