"""payments: charges customers for orders, and refunds them, idempotently by saga id.

    POST /charges {saga_id, customer, amount_cents} -> 200 {status: charged}
                                                       402 insufficient funds, 409 saga already compensated
    POST /refunds {saga_id}                         -> 200 {status: refunded | cancelled}
    GET  /audit                                     -> accounts (balance, initial) and every charge

A refund that arrives before its charge (the charge's outcome was unknown to the
orchestrator) leaves a 'cancelled' tombstone, so the late charge is refused. Money is in
integer cents: conservation is checked exactly.
"""
from __future__ import annotations

import time

from psycopg import AsyncConnection

from participant import Body, Participant, Reject, one, rows
from servicekit import env_int, serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    customer text PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0),
    initial bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS charges (
    saga_id text PRIMARY KEY,
    customer text,
    amount bigint NOT NULL,
    status text NOT NULL CHECK (status IN ('charged', 'refunded', 'cancelled')),
    created_at double precision NOT NULL,      -- when the charge (or its tombstone) was first written
    compensated_at double precision            -- when it was refunded or cancelled; NULL while charged
);
"""
CUSTOMERS = env_int("CUSTOMERS", 20)
INITIAL_BALANCE = env_int("INITIAL_BALANCE_CENTS", 100_000_000)
# One customer with little money: concurrent orders contend on one balance, which runs out
# mid-run, so charges are refused (402) and sagas compensate in the steady state too.
SCARCE_CUSTOMER = "c-scarce"
SCARCE_BALANCE = env_int("SCARCE_BALANCE_CENTS", 30_000)


async def seed(conn: AsyncConnection) -> None:
    # ON CONFLICT: after a restart the database keeps the balances it had.
    async with conn.cursor() as cur:
        await cur.executemany("INSERT INTO accounts VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                              [(f"c{i}", INITIAL_BALANCE, INITIAL_BALANCE) for i in range(CUSTOMERS)]
                              + [(SCARCE_CUSTOMER, SCARCE_BALANCE, SCARCE_BALANCE)])


async def charge(conn: AsyncConnection, body: Body) -> Body:
    saga = body["saga_id"]
    try:
        customer, amount = str(body["customer"]), int(body["amount_cents"])
    except (KeyError, TypeError, ValueError):
        raise Reject(422, "expected customer and integer amount_cents") from None
    if amount <= 0:
        raise Reject(422, "amount_cents must be positive")
    inserted = await one(conn, "INSERT INTO charges VALUES (%s, %s, %s, 'charged', %s, NULL) "
                               "ON CONFLICT (saga_id) DO NOTHING RETURNING saga_id", (saga, customer, amount, time.time()))
    if inserted is None:
        existing = await one(conn, "SELECT status, amount FROM charges WHERE saga_id = %s", (saga,))
        assert existing is not None
        if existing["status"] == "charged":
            return {"status": "charged", "amount_cents": existing["amount"], "replayed": True}
        raise Reject(409, "saga already compensated: charge refused", status=existing["status"])
    debited = await conn.execute("UPDATE accounts SET balance = balance - %s WHERE customer = %s AND balance >= %s",
                                 (amount, customer, amount))
    if debited.rowcount != 1:
        raise Reject(402, "insufficient funds or unknown customer", customer=customer)
    return {"status": "charged", "amount_cents": amount}


async def refund(conn: AsyncConnection, body: Body) -> Body:
    saga, now = body["saga_id"], time.time()
    tombstone = await one(conn, "INSERT INTO charges VALUES (%s, NULL, 0, 'cancelled', %s, %s) "
                                "ON CONFLICT (saga_id) DO NOTHING RETURNING saga_id", (saga, now, now))
    if tombstone is not None:
        return {"status": "cancelled"}
    row = await one(conn, "SELECT status, customer, amount FROM charges WHERE saga_id = %s FOR UPDATE", (saga,))
    assert row is not None
    if row["status"] != "charged":
        return {"status": row["status"], "replayed": True}
    await conn.execute("UPDATE accounts SET balance = balance + %s WHERE customer = %s", (row["amount"], row["customer"]))
    await conn.execute("UPDATE charges SET status = 'refunded', compensated_at = %s WHERE saga_id = %s", (now, saga))
    return {"status": "refunded", "amount_cents": row["amount"]}


async def audit(conn: AsyncConnection) -> Body:
    return {"accounts": await rows(conn, "SELECT customer, balance, initial FROM accounts ORDER BY customer"),
            "charges": await rows(conn, "SELECT saga_id, customer, amount, status, created_at, compensated_at "
                                        "FROM charges ORDER BY saga_id")}


participant = Participant("payments", SCHEMA, seed)
app = participant.app([participant.action("/charges", charge), participant.action("/refunds", refund),
                       participant.audit(audit)])

if __name__ == "__main__":
    serve(app, default_port=8102)
