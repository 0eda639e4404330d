"""query: the read side of the CQRS target. Owns the read model in its own database.

The projector delivers outbox events here (at least once: a batch whose answer was lost is
sent again). Applying is idempotent through a checkpoint kept in the same transaction as the
read model: an event at or below the checkpoint was applied already and is skipped. Every
application is also appended to ``applied`` (never deduplicated), so an audit can show an
event applied twice if that ever happens.

    POST /events {"events": [{"position", "event_id", "account", "amount"}, ...]}
                             -> {"applied", "skipped", "checkpoint"}
    GET  /accounts/{id}      -> {"account", "balance", "updates", "as_of_position"}  (may be stale)
    GET  /audit?quiesce=S    the read model and the deliveries received (events and batches, redeliveries
                             included), once no batch has arrived for S seconds (waits 5 s at most,
                             well inside the harness's 10 s audit timeout):
                             the audit is taken after load stops, while the projector may still
                             be delivering the last few events

Reports ``@harness-event {"type": "projection_applied", "positions": [[first, last], ...],
"checkpoint": N}`` for each batch that applied something.

Env: QUERY_DB_URL, DB_POOL_SIZE (4), REQUEST_TIMEOUT (s, 3),
IDEMPOTENT_APPLY (true; false is the 'non-idempotent-projection' defect: redelivered events
are applied again).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import defaultdict

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pgkit import Pool, PoolTimeout, bounded, wait_ready
from servicekit import emit_event, env_flag, env_float, env_int, health_route, metrics_route, serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS account_view (
    id text PRIMARY KEY, balance bigint NOT NULL, updates int NOT NULL, last_position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoint (id int PRIMARY KEY CHECK (id = 1), position bigint NOT NULL);
INSERT INTO checkpoint VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS applied (
    seq bigserial PRIMARY KEY, position bigint NOT NULL, event_id uuid NOT NULL, applied_at double precision NOT NULL
);
"""

REQUEST_TIMEOUT = env_float("REQUEST_TIMEOUT", 3.0)
IDEMPOTENT_APPLY = env_flag("IDEMPOTENT_APPLY", True)
pool = Pool(os.environ.get("QUERY_DB_URL", ""), size=env_int("DB_POOL_SIZE", 4))
last_batch_at = 0.0
skipped_total = 0  # redelivered events the checkpoint kept from being applied again
received = {"events": 0, "batches": 0}  # every delivery that reached us, redeliveries included


def ranges(positions: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7, 8] -> [[1, 3], [7, 8]]: compact enough to put every batch in an event."""
    out: list[list[int]] = []
    for p in sorted(positions):
        if out and p == out[-1][1] + 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return out


async def receive_events(request: Request) -> JSONResponse:
    global last_batch_at, skipped_total
    try:
        events = [(int(e["position"]), str(e["event_id"]), str(e["account"]), int(e["amount"]))
                  for e in (await request.json())["events"]]
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON {events: [{position, event_id, account, amount}]}"}, 422)
    last_batch_at = time.time()
    # Counted on arrival, before applying: the load the relay puts on the event edge, as seen here.
    received["events"] += len(events)
    received["batches"] += 1
    events.sort()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            async with pool.connection() as conn, conn.transaction():
                cur = await conn.execute("SELECT position FROM checkpoint WHERE id = 1 FOR UPDATE")
                checkpoint = (await cur.fetchone())[0]
                fresh = [e for e in events if e[0] > checkpoint] if IDEMPOTENT_APPLY else events
                per_account: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
                for position, _, account, amount in fresh:
                    acc = per_account[account]
                    acc[0] += amount
                    acc[1] += 1
                    acc[2] = max(acc[2], position)
                for account, (total, count, last) in per_account.items():
                    await conn.execute(
                        "INSERT INTO account_view (id, balance, updates, last_position) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET balance = account_view.balance + EXCLUDED.balance, "
                        "updates = account_view.updates + EXCLUDED.updates, "
                        "last_position = GREATEST(account_view.last_position, EXCLUDED.last_position)",
                        (account, total, count, last))
                now = time.time()
                async with conn.cursor() as cur:
                    await cur.executemany("INSERT INTO applied (position, event_id, applied_at) VALUES (%s, %s, %s)",
                                          [(p, e, now) for p, e, _, _ in fresh])
                new_checkpoint = max([checkpoint] + [e[0] for e in fresh])
                await conn.execute("UPDATE checkpoint SET position = %s WHERE id = 1", (new_checkpoint,))
    except (psycopg.Error, OSError, TimeoutError, PoolTimeout) as exc:
        return JSONResponse({"error": f"apply failed: {type(exc).__name__}"}, status_code=503)
    skipped_total += len(events) - len(fresh)
    if fresh:
        emit_event("projection_applied", positions=ranges([e[0] for e in fresh]), checkpoint=new_checkpoint,
                   applied=len(fresh))
    return JSONResponse({"applied": len(fresh), "skipped": len(events) - len(fresh), "checkpoint": new_checkpoint})


async def read(account: str) -> tuple:
    """(balance, updates, checkpoint) in one statement: a read is always one consistent snapshot."""
    async with pool.connection() as conn:
        return await (await conn.execute(
            "SELECT v.balance, v.updates, c.position FROM checkpoint c "
            "LEFT JOIN account_view v ON v.id = %s WHERE c.id = 1", (account,))).fetchone()


async def read_account(request: Request) -> JSONResponse:
    account = request.path_params["account"]
    try:
        row = await bounded(REQUEST_TIMEOUT, read(account))
    except (psycopg.Error, OSError, TimeoutError, PoolTimeout) as exc:
        return JSONResponse({"error": f"read failed: {type(exc).__name__}"}, status_code=503)
    balance, updates, as_of = row
    # An account the read model has not heard of yet is a stale answer, not an error.
    return JSONResponse({"account": account, "balance": balance or 0, "updates": updates or 0, "as_of_position": as_of})


async def audit(request: Request) -> JSONResponse:
    try:
        quiesce = float(request.query_params.get("quiesce", "0"))
    except ValueError:
        return JSONResponse({"error": "quiesce must be a number of seconds"}, status_code=422)
    deadline = time.monotonic() + 5.0
    while time.time() - last_batch_at < quiesce and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    async with pool.connection() as conn:
        checkpoint = (await (await conn.execute("SELECT position FROM checkpoint WHERE id = 1")).fetchone())[0]
        accounts = await (await conn.execute("SELECT id, balance, updates FROM account_view ORDER BY id")).fetchall()
        applied = await (await conn.execute("SELECT position, event_id::text FROM applied ORDER BY seq")).fetchall()
    return JSONResponse({
        "checkpoint": checkpoint,
        "accounts": {a: {"balance": b, "updates": u} for a, b, u in accounts},
        "applied": [[p, e] for p, e in applied],
        "redeliveries_skipped": skipped_total,
        "received": dict(received),
        "quiet_for_s": round(time.time() - last_batch_at, 3) if last_batch_at else None,
    })


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    await wait_ready(pool, SCHEMA)
    try:
        yield
    finally:
        await pool.close()


app = Starlette(routes=[
    health_route("query"),
    metrics_route(),
    Route("/events", receive_events, methods=["POST"]),
    Route("/accounts/{account}", read_account, methods=["GET"]),
    Route("/audit", audit, methods=["GET"]),
], lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8102)
