"""One part of the aggregated dashboard: ``profile``, ``orders`` or ``loyalty``.

The three are the same small service with different data, chosen by PART (the manifest
passes the service name). Each answers ``GET /<part>/<user_id>`` with deterministic data,
so an answer can be checked without a database. Each part records every call that reaches it,
at arrival, and answers the record on ``GET /audit`` (see ledger.py): how many calls a
dashboard cost it, judged here rather than from the aggregator's word.

    HOST=127.0.0.1 PORT=8101 PART=profile PYTHONPATH=../_shared python part.py
"""
from __future__ import annotations

import os
import zlib

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledger import CallLedger
from servicekit import health_route, metrics_route, serve

TIERS = ("bronze", "silver", "gold")


def _seed(user_id: str) -> int:
    return zlib.crc32(user_id.encode())


def profile(user_id: str) -> dict:
    return {"user_id": user_id, "name": f"User {user_id}", "email": f"user{user_id}@example.test"}


def orders(user_id: str) -> list[dict]:
    n = _seed(user_id) % 4
    return [{"order_id": f"{user_id}-{i}", "total": round(10 + (_seed(user_id) + i) % 90 + 0.5, 2)} for i in range(n)]


def loyalty(user_id: str) -> dict:
    return {"tier": TIERS[_seed(user_id) % 3], "points": _seed(user_id) % 5000}


RENDER = {"profile": profile, "orders": orders, "loyalty": loyalty}
PART = os.environ.get("PART") or os.environ.get("HARNESS_SERVICE", "")
if PART not in RENDER:
    # Fail at start-up: a part that answers nothing useful would look like a fault.
    raise SystemExit(f"PART={PART!r}: expected one of {', '.join(RENDER)}")

ANSWERS = Counter("part_answers_total", "Answers served", ["part"])
calls = CallLedger()


async def get_part(request: Request) -> JSONResponse:
    ANSWERS.labels(PART).inc()
    return JSONResponse({PART: RENDER[PART](request.path_params["user_id"])})


app = Starlette(routes=[health_route(PART), metrics_route(), Route(f"/{PART}/{{user_id}}", get_part, methods=["GET"]),
                        calls.audit_route()], middleware=[calls.middleware()])

if __name__ == "__main__":
    serve(app, default_port=8101)
