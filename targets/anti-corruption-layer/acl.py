"""acl: the anti-corruption layer. The only way into the legacy customer master; it speaks the
legacy protocol, validates every record and answers in the domain's model.

    HOST=127.0.0.1 PORT=8201 LEGACY_ADDR=127.0.0.1:8202 PYTHONPATH=../_shared python acl.py

GET /customers/{id} answers 200 with a domain customer (see legacy_model.py), 404 for an
unknown customer, or 502 ``{"error": "legacy_unusable", "reason": ..., "detail": ...}`` when
the legacy answer cannot be trusted: truncated, malformed, too slow (``timeout``) or not
there at all (``unreachable``). It reads the answer up to its line end, however the bytes
arrive (a sliced answer is reassembled); a connection closed before that is a truncated record.

Env: LEGACY_ADDR (host:port), ACL_LEGACY_TIMEOUT (s, 0.5; 0 = none: the "no-deadline" defect),
ACL_VALIDATE (true; false = the "pass-through" defect: the first bytes that arrive are taken
as the record and mapped without any check).
"""
from __future__ import annotations

import asyncio
import os

from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from legacy_model import LegacyRecordError, NoSuchCustomer, request_line, translate, translate_unchecked
from servicekit import env_flag, env_float, health_route, metrics_route, serve

LEGACY_HOST, _, LEGACY_PORT = os.environ.get("LEGACY_ADDR", "127.0.0.1:8202").rpartition(":")
LEGACY_TIMEOUT = env_float("ACL_LEGACY_TIMEOUT", 0.5) or None
VALIDATE = env_flag("ACL_VALIDATE", True)
MAX_RECORD = 4096

RECORDS = Counter("acl_legacy_records_total", "Legacy answers by what the ACL made of them", ["result"])
LEGACY_SECONDS = Histogram("acl_legacy_call_seconds", "Time to get one legacy record")


class Unreachable(Exception):
    pass


async def fetch_record(customer_id: int) -> bytes:
    """One legacy inquiry: connect, send the request line, read the answer."""
    try:
        reader, writer = await asyncio.open_connection(LEGACY_HOST, int(LEGACY_PORT))
    except OSError as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
    try:
        writer.write(request_line(customer_id))
        await writer.drain()
        if not VALIDATE:
            return await reader.read(MAX_RECORD)  # the defect: whatever the first read brings
        try:
            return await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial  # closed before the line end: parse_record calls it truncated
        except asyncio.LimitOverrunError:
            raise LegacyRecordError("malformed", "no line end within the record size limit") from None
    except ConnectionError as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
    finally:
        writer.close()


async def get_customer(request: Request) -> JSONResponse:
    raw_id = request.path_params["customer_id"]
    if not raw_id.isdigit() or not 0 < int(raw_id) < 10**8:
        return JSONResponse({"error": "customer ids are positive integers below 10^8"}, status_code=404)
    customer_id = int(raw_id)
    try:
        with LEGACY_SECONDS.time():
            async with asyncio.timeout(LEGACY_TIMEOUT):
                raw = await fetch_record(customer_id)
        customer = translate(raw, customer_id) if VALIDATE else translate_unchecked(raw, customer_id)
    except NoSuchCustomer:
        RECORDS.labels("not_found").inc()
        return JSONResponse({"error": "no such customer"}, status_code=404)
    except LegacyRecordError as exc:
        return unusable(exc.reason, exc.detail)
    except TimeoutError:
        return unusable("timeout", f"no complete answer within {LEGACY_TIMEOUT}s")
    except Unreachable as exc:
        return unusable("unreachable", str(exc))
    RECORDS.labels("translated").inc()
    return JSONResponse(customer)


def unusable(reason: str, detail: str) -> JSONResponse:
    RECORDS.labels(reason).inc()
    return JSONResponse({"error": "legacy_unusable", "reason": reason, "detail": detail}, status_code=502)


app = Starlette(routes=[health_route("acl"), metrics_route(), Route("/customers/{customer_id}", get_customer)])

if __name__ == "__main__":
    serve(app, default_port=8201)
