"""command: the write side of the CQRS target. Accepts deposits into accounts.

Each accepted deposit changes the write model (``accounts``) and appends an event to the
transactional outbox in the SAME transaction: an update is either accepted and published
later, or neither. Outbox positions are gap-free (a counter row bumped in the transaction,
not a sequence, which leaves holes on rollback), so the read side's progress can be told
exactly.

    POST /accounts/{id}/deposits {"amount": 1..1000000}  -> {"event_id", "position", "balance"}
    GET  /audit       every accepted update (the outbox, with when each write began) and the write
                      model's balances

Reports ``@harness-event {"type": "update_accepted", ...}`` after each commit: the
acknowledgement the checks compare with the read model.

Env: COMMAND_DB_URL (postgresql://... through its Toxiproxy edge), DB_POOL_SIZE (4),
REQUEST_TIMEOUT (s, 3).
"""
from __future__ import annotations

import contextlib
import os
import time
import uuid

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pgkit import Pool, PoolTimeout, bounded, wait_ready
from servicekit import emit_event, env_float, env_int, health_route, metrics_route, serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (id text PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE IF NOT EXISTS stream_head (id int PRIMARY KEY CHECK (id = 1), position bigint NOT NULL);
INSERT INTO stream_head VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS outbox (
    position bigint PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    account text NOT NULL,
    amount bigint NOT NULL,
    created_at double precision NOT NULL,
    published boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (position) WHERE NOT published;
"""

REQUEST_TIMEOUT = env_float("REQUEST_TIMEOUT", 3.0)
pool = Pool(os.environ.get("COMMAND_DB_URL", ""), size=env_int("DB_POOL_SIZE", 4))


async def write(account: str, amount: int, event_id: str) -> tuple[int, int]:
    """The account and its outbox event, in one transaction: (position, new balance)."""
    async with pool.connection() as conn, conn.transaction():
        # The row lock on stream_head orders writers and makes positions gap-free.
        cur = await conn.execute("UPDATE stream_head SET position = position + 1 WHERE id = 1 RETURNING position")
        position = (await cur.fetchone())[0]
        cur = await conn.execute(
            "INSERT INTO accounts (id, balance) VALUES (%s, %s) ON CONFLICT (id) "
            "DO UPDATE SET balance = accounts.balance + EXCLUDED.balance RETURNING balance", (account, amount))
        balance = (await cur.fetchone())[0]
        await conn.execute("INSERT INTO outbox (position, event_id, account, amount, created_at) "
                           "VALUES (%s, %s, %s, %s, %s)", (position, event_id, account, amount, time.time()))
    return position, balance


async def deposit(request: Request) -> JSONResponse:
    account = request.path_params["account"]
    try:
        amount = int((await request.json())["amount"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON {amount: integer}"}, status_code=422)
    if not 0 < amount <= 1_000_000:
        return JSONResponse({"error": "amount must be 1..1000000"}, status_code=422)
    event_id = str(uuid.uuid4())
    try:
        position, balance = await bounded(REQUEST_TIMEOUT, write(account, amount, event_id))
    except (psycopg.Error, OSError, TimeoutError, PoolTimeout) as exc:
        # The commit may or may not have happened (a timeout during COMMIT): the client cannot
        # know, and neither can we. No ack event is emitted for it.
        return JSONResponse({"error": f"write failed: {type(exc).__name__}"}, status_code=503)
    emit_event("update_accepted", event_id=event_id, position=position, account=account, amount=amount)
    return JSONResponse({"event_id": event_id, "position": position, "balance": balance})


async def audit(request: Request) -> JSONResponse:
    async with pool.connection() as conn:
        head = (await (await conn.execute("SELECT position FROM stream_head WHERE id = 1")).fetchone())[0]
        rows = await (await conn.execute(
            "SELECT position, event_id::text, account, amount, created_at, published FROM outbox ORDER BY position")).fetchall()
        balances = await (await conn.execute("SELECT id, balance FROM accounts ORDER BY id")).fetchall()
    return JSONResponse({
        "head": head,
        # [position, event_id, account, amount, created_at]: created_at is when the write began (epoch s)
        "events": [[p, e, a, amt, at] for p, e, a, amt, at, _ in rows],
        "unpublished": sum(1 for *_, published in rows if not published),
        "balances": dict(balances),
    })


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    await wait_ready(pool, SCHEMA)
    try:
        yield
    finally:
        await pool.close()


app = Starlette(routes=[
    health_route("command"),
    metrics_route(),
    Route("/accounts/{account}/deposits", deposit, methods=["POST"]),
    Route("/audit", audit, methods=["GET"]),
], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8101)
