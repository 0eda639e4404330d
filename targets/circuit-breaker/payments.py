"""payments: charges orders. The upstream that the harness faults (through Toxiproxy).

    HOST=127.0.0.1 PORT=8002 PYTHONPATH=../_shared python payments.py

Every charge it makes is appended to its ledger, which survives a crash when PAYMENTS_LEDGER
names a file (the manifest puts it in the run folder): payments is the system of record for
money, and the harness audits it (``GET /audit``) when the run is over, independently of
orders, the component under test. The audit also lists every call that reached payments, at
arrival (see ledger.py): how much load the breaker let through.

Env: PAYMENTS_LEDGER (a JSON-lines file; unset: memory only).
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledger import CallLedger
from servicekit import health_route, metrics_route, serve

CHARGES = Counter("payments_charges_total", "Charge requests answered", ["result"])
LEDGER_PATH = Path(os.environ["PAYMENTS_LEDGER"]) if os.environ.get("PAYMENTS_LEDGER") else None

# order_id -> charge. Charging is idempotent per order, so a caller that retries after
# a timeout (the answer was lost, not the charge) never charges twice.
charges: dict[str, dict] = {}
# Every charge made, in order: the audited record of money moved (append-only, so a charge
# made twice shows up twice, whatever the dict above says).
charge_log: list[dict] = []
calls = CallLedger()


def _load_ledger() -> None:
    """A restarted payments knows every charge it made before: they are money already moved."""
    if LEDGER_PATH is None:
        return
    # The folder may not exist yet (a container whose run folder is not mounted, as in Compose).
    LEDGER_PATH.parent.mkdir(parents=True, exist_ok=True)
    if not LEDGER_PATH.is_file():
        return
    for line in LEDGER_PATH.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: its charge was never answered either
        charge_log.append(entry)
        charges.setdefault(entry["order_id"], {k: entry[k] for k in ("status", "charge_id", "order_id", "amount")})


def _append(entry: dict) -> None:
    charge_log.append(entry)
    if LEDGER_PATH is not None:
        # One write per line, flushed before the answer: a crash after it keeps the charge.
        with LEDGER_PATH.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, separators=(",", ":")) + "\n")


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
    _append({**result, "t": round(time.time(), 4)})
    CHARGES.labels("charged").inc()
    return JSONResponse(result)


_load_ledger()
app = Starlette(routes=[health_route("payments"), metrics_route(), Route("/charge", charge, methods=["POST"]),
                        calls.audit_route(lambda: {"charges": charge_log})],
                middleware=[calls.middleware()])

if __name__ == "__main__":
    serve(app, default_port=8002)
