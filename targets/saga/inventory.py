"""inventory: reserves stock for orders, and releases it, idempotently by saga id.

    POST /reservations {saga_id, sku, qty} -> 200 {status: reserved}
                                              409 out of stock (or saga already compensated), 422 unknown sku
    POST /releases {saga_id}               -> 200 {status: released | cancelled}
    GET  /audit                            -> stock (available, initial) and every reservation

A release that arrives before its reservation leaves a 'cancelled' tombstone, so the late
reservation is refused. ``sku-limited`` has little stock on purpose: it runs out during a
run, and orders for it are rejected at the first step (nothing to compensate).
"""
from __future__ import annotations

import time

from psycopg import AsyncConnection

from participant import Body, Participant, Reject, one, rows
from servicekit import env_int, serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    sku text PRIMARY KEY,
    available bigint NOT NULL CHECK (available >= 0),
    initial bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    saga_id text PRIMARY KEY,
    sku text,
    qty bigint NOT NULL,
    status text NOT NULL CHECK (status IN ('reserved', 'released', 'cancelled')),
    created_at double precision NOT NULL,      -- when the reservation (or its tombstone) was first written
    compensated_at double precision            -- when it was released or cancelled; NULL while reserved
);
"""
SKUS = env_int("SKUS", 5)
INITIAL_STOCK = env_int("INITIAL_STOCK", 1_000_000)
LIMITED_STOCK = env_int("LIMITED_STOCK", 40)


async def seed(conn: AsyncConnection) -> None:
    stock = [(f"sku-{i}", INITIAL_STOCK, INITIAL_STOCK) for i in range(SKUS)] + [("sku-limited", LIMITED_STOCK, LIMITED_STOCK)]
    async with conn.cursor() as cur:
        await cur.executemany("INSERT INTO stock VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", stock)


async def reserve(conn: AsyncConnection, body: Body) -> Body:
    saga = body["saga_id"]
    try:
        sku, qty = str(body["sku"]), int(body["qty"])
    except (KeyError, TypeError, ValueError):
        raise Reject(422, "expected sku and integer qty") from None
    if qty <= 0:
        raise Reject(422, "qty must be positive")
    inserted = await one(conn, "INSERT INTO reservations VALUES (%s, %s, %s, 'reserved', %s, NULL) "
                               "ON CONFLICT (saga_id) DO NOTHING RETURNING saga_id", (saga, sku, qty, time.time()))
    if inserted is None:
        existing = await one(conn, "SELECT status, qty FROM reservations WHERE saga_id = %s", (saga,))
        assert existing is not None
        if existing["status"] == "reserved":
            return {"status": "reserved", "qty": existing["qty"], "replayed": True}
        raise Reject(409, "saga already compensated: reservation refused", status=existing["status"])
    taken = await conn.execute("UPDATE stock SET available = available - %s WHERE sku = %s AND available >= %s",
                               (qty, sku, qty))
    if taken.rowcount != 1:
        known = await one(conn, "SELECT 1 AS found FROM stock WHERE sku = %s", (sku,))
        if known is None:
            raise Reject(422, "unknown sku", sku=sku)
        raise Reject(409, "out of stock", sku=sku)
    return {"status": "reserved", "qty": qty}


async def release(conn: AsyncConnection, body: Body) -> Body:
    saga, now = body["saga_id"], time.time()
    tombstone = await one(conn, "INSERT INTO reservations VALUES (%s, NULL, 0, 'cancelled', %s, %s) "
                                "ON CONFLICT (saga_id) DO NOTHING RETURNING saga_id", (saga, now, now))
    if tombstone is not None:
        return {"status": "cancelled"}
    row = await one(conn, "SELECT status, sku, qty FROM reservations WHERE saga_id = %s FOR UPDATE", (saga,))
    assert row is not None
    if row["status"] != "reserved":
        return {"status": row["status"], "replayed": True}
    await conn.execute("UPDATE stock SET available = available + %s WHERE sku = %s", (row["qty"], row["sku"]))
    await conn.execute("UPDATE reservations SET status = 'released', compensated_at = %s WHERE saga_id = %s", (now, saga))
    return {"status": "released", "qty": row["qty"]}


async def audit(conn: AsyncConnection) -> Body:
    return {"stock": await rows(conn, "SELECT sku, available, initial FROM stock ORDER BY sku"),
            "reservations": await rows(conn, "SELECT saga_id, sku, qty, status, created_at, compensated_at "
                                             "FROM reservations ORDER BY saga_id")}


participant = Participant("inventory", SCHEMA, seed)
app = participant.app([participant.action("/reservations", reserve), participant.action("/releases", release),
                       participant.audit(audit)])

if __name__ == "__main__":
    serve(app, default_port=8101)
