"""shipping: schedules shipments for orders, and cancels them, idempotently by saga id.

    POST /shipments {saga_id, address} -> 200 {status: scheduled}
                                          422 undeliverable address, 409 saga already compensated
    POST /cancellations {saga_id}      -> 200 {status: cancelled}
    GET  /audit                        -> every shipment

Addresses starting with UNDELIVERABLE_PREFIX ("nowhere") are refused: that is the business
failure that makes sagas compensate in the steady state, before any fault.
"""
from __future__ import annotations

import os
import time

from psycopg import AsyncConnection

from participant import Body, Participant, Reject, one, rows
from servicekit import serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS shipments (
    saga_id text PRIMARY KEY,
    address text,
    status text NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    created_at double precision NOT NULL,      -- when the shipment (or its tombstone) was first written
    compensated_at double precision            -- when it was cancelled; NULL while scheduled
);
"""
UNDELIVERABLE_PREFIX = os.environ.get("UNDELIVERABLE_PREFIX", "nowhere")


async def schedule(conn: AsyncConnection, body: Body) -> Body:
    saga, address = body["saga_id"], str(body.get("address") or "")
    if not address or address.startswith(UNDELIVERABLE_PREFIX):
        raise Reject(422, "undeliverable address", address=address)
    inserted = await one(conn, "INSERT INTO shipments VALUES (%s, %s, 'scheduled', %s, NULL) "
                               "ON CONFLICT (saga_id) DO NOTHING RETURNING saga_id", (saga, address, time.time()))
    if inserted is None:
        existing = await one(conn, "SELECT status FROM shipments WHERE saga_id = %s", (saga,))
        assert existing is not None
        if existing["status"] == "scheduled":
            return {"status": "scheduled", "replayed": True}
        raise Reject(409, "saga already compensated: shipment refused", status=existing["status"])
    return {"status": "scheduled"}


async def cancel(conn: AsyncConnection, body: Body) -> Body:
    saga, now = body["saga_id"], time.time()
    # Insert the tombstone, or cancel the scheduled shipment: either way it ends 'cancelled'. A
    # repeated cancellation changes nothing, its time included: that is when the effect happened.
    await conn.execute("INSERT INTO shipments VALUES (%s, NULL, 'cancelled', %s, %s) "
                       "ON CONFLICT (saga_id) DO UPDATE SET status = 'cancelled', compensated_at = EXCLUDED.compensated_at "
                       "WHERE shipments.status = 'scheduled'", (saga, now, now))
    return {"status": "cancelled"}


async def audit(conn: AsyncConnection) -> Body:
    return {"shipments": await rows(conn, "SELECT saga_id, address, status, created_at, compensated_at "
                                          "FROM shipments ORDER BY saga_id")}


participant = Participant("shipping", SCHEMA, seed=None)
app = participant.app([participant.action("/shipments", schedule), participant.action("/cancellations", cancel),
                       participant.audit(audit)])

if __name__ == "__main__":
    serve(app, default_port=8103)
