"""projector: the outbox relay of the CQRS target.

Reads unpublished events from the command side's outbox (its own edge to the command
database), delivers them in position order to the query side (the event edge,
``projector->query``), and marks them published only once the query side answered. A
delivery that fails is retried with backoff, so an event is delivered at least once;
the query side makes the effect exactly-once.

Defect ``drop-on-error`` (DROP_ON_ERROR=true): a batch whose delivery fails is marked
published anyway, as a relay that "logs and moves on" would: those events never reach the
read model.

    GET /audit   the relay's own counters (delivered, batches, failures, outbox errors)

Reports ``@harness-event`` lines ``projection_stalled`` (first failure of a streak) and
``projection_resumed`` (first success after one). Nothing it reports says whether it drops.

Env: OUTBOX_DB_URL, QUERY_URL, BATCH_SIZE (100), POLL_INTERVAL (s, 0.1),
DELIVERY_TIMEOUT (s, 1.5), RETRY_MAX_BACKOFF (s, 1.0), DROP_ON_ERROR (false).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time

import httpx
import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pgkit import Pool, PoolTimeout
from servicekit import emit_event, env_flag, env_float, env_int, health_route, metrics_route, serve

QUERY_URL = os.environ.get("QUERY_URL", "http://127.0.0.1:8102").rstrip("/")
BATCH_SIZE = env_int("BATCH_SIZE", 100)
POLL_INTERVAL = env_float("POLL_INTERVAL", 0.1)
DELIVERY_TIMEOUT = env_float("DELIVERY_TIMEOUT", 1.5)
RETRY_MAX_BACKOFF = env_float("RETRY_MAX_BACKOFF", 1.0)
DROP_ON_ERROR = env_flag("DROP_ON_ERROR", False)

pool = Pool(os.environ.get("OUTBOX_DB_URL", ""), size=1)
counters = {"delivered": 0, "batches": 0, "failures": 0, "outbox_errors": 0}


class DeliveryFailed(Exception):
    pass


async def next_batch() -> list[dict]:
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT position, event_id::text, account, amount FROM outbox WHERE NOT published "
            "ORDER BY position LIMIT %s", (BATCH_SIZE,))).fetchall()
    return [{"position": p, "event_id": e, "account": a, "amount": amt} for p, e, a, amt in rows]


async def mark_published(batch: list[dict]) -> None:
    async with pool.connection() as conn:
        await conn.execute("UPDATE outbox SET published = true WHERE position = ANY(%s)",
                           ([e["position"] for e in batch],))


async def deliver(client: httpx.AsyncClient, batch: list[dict]) -> None:
    try:
        # One bound for the whole call: httpx's timeouts are per phase.
        async with asyncio.timeout(DELIVERY_TIMEOUT):
            resp = await client.post("/events", json={"events": batch})
        if resp.status_code != 200:
            raise DeliveryFailed(f"query answered {resp.status_code}")
        resp.json()
    except (httpx.HTTPError, TimeoutError, ValueError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc


async def relay(client: httpx.AsyncClient) -> None:
    backoff = POLL_INTERVAL
    stalled_since: float | None = None
    while True:
        try:
            batch = await next_batch()
            if not batch:
                await asyncio.sleep(POLL_INTERVAL)
                continue
            try:
                await deliver(client, batch)
            except DeliveryFailed as exc:
                counters["failures"] += 1
                if stalled_since is None:
                    stalled_since = time.time()
                    emit_event("projection_stalled", error=str(exc), first_position=batch[0]["position"])
                if DROP_ON_ERROR:
                    await mark_published(batch)
                    await asyncio.sleep(POLL_INTERVAL)
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RETRY_MAX_BACKOFF)
                continue
            # Marked only after the query side answered: a crash or failure before this line means
            # the batch is sent again, which the query side's checkpoint makes harmless.
            await mark_published(batch)
            counters["delivered"] += len(batch)
            counters["batches"] += 1
            backoff = POLL_INTERVAL
            if stalled_since is not None:
                emit_event("projection_resumed", stalled_s=round(time.time() - stalled_since, 3))
                stalled_since = None
            if len(batch) < BATCH_SIZE:
                await asyncio.sleep(POLL_INTERVAL)
        except (psycopg.Error, OSError, TimeoutError, PoolTimeout) as exc:
            # The outbox itself is unreachable: nothing is lost, the rows wait for us.
            counters["outbox_errors"] += 1
            print(f"outbox unavailable: {type(exc).__name__}: {exc}", flush=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RETRY_MAX_BACKOFF)


async def audit(request: Request) -> JSONResponse:
    return JSONResponse(dict(counters))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    async with httpx.AsyncClient(base_url=QUERY_URL) as client:
        task = asyncio.create_task(relay(client))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await pool.close()


app = Starlette(routes=[health_route("projector"), metrics_route(), Route("/audit", audit, methods=["GET"])],
                lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8103)
