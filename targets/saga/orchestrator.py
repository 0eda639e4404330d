"""orchestrator: takes orders and runs each as a saga over inventory, payments and shipping.

    POST /orders {order_id?, customer, sku, qty, amount_cents, address}
        200 {saga_id, state: completed | compensated, reason}   the saga ended within the deadline
        202 {saga_id, state: running | compensating}            accepted; it ends in the background
        500 {saga_id, state: compensation_failed}               failed, and could not be undone
        503                                                     the saga could not be recorded
    GET  /orders/{id}   the saga's state and step log
    GET  /audit         every saga with its step log (waits briefly for sagas in flight)

``order_id`` is the saga id: a client that retries with the same id gets the same saga.
The saga is recorded in the orchestrator's own database before any step runs, and is
driven by a task that outlives the request; a restarted orchestrator resumes every
unfinished saga (see saga_flow.py for the flow and the defect switches).

Env: DATABASE_URL, INVENTORY_URL, PAYMENTS_URL, SHIPPING_URL, REQUEST_DEADLINE (s, 3),
CALL_TIMEOUT (s, 1.5), FORWARD_ATTEMPTS (3), BACKOFF_FIRST (s, 0.1), BACKOFF_MAX (s, 1.0),
COMPENSATION_RETRY (true), SKIP_COMPENSATION ("").
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pgpool import DB_ERRORS, Pool
from saga_flow import STEPS, FlowConfig, SagaRunner
from saga_store import COMPENSATED, COMPENSATION_FAILED, COMPLETED, SagaStore
from servicekit import env_flag, env_float, env_int, health_route, metrics_route, serve

REQUEST_DEADLINE = env_float("REQUEST_DEADLINE", 3.0)
AUDIT_QUIESCE = env_float("AUDIT_QUIESCE", 6.0)
ORDER_FIELDS = {"customer": str, "sku": str, "qty": int, "amount_cents": int, "address": str}

config = FlowConfig(
    forward_attempts=env_int("FORWARD_ATTEMPTS", 3),
    call_timeout=env_float("CALL_TIMEOUT", 1.5),
    backoff_first=env_float("BACKOFF_FIRST", 0.1),
    backoff_max=env_float("BACKOFF_MAX", 1.0),
    compensation_retry=env_flag("COMPENSATION_RETRY", True),
    skip_compensation=frozenset(s.strip() for s in os.environ.get("SKIP_COMPENSATION", "").split(",") if s.strip()),
)
unknown_steps = config.skip_compensation - {s.name for s in STEPS}
if unknown_steps:  # a misspelt defect switch would silently test the sound system
    raise ValueError(f"SKIP_COMPENSATION names unknown steps {sorted(unknown_steps)}; steps: {[s.name for s in STEPS]}")

pool = Pool(os.environ["DATABASE_URL"], size=env_int("DB_POOL_SIZE", 6))
store = SagaStore(pool)
runner: SagaRunner


async def create_order(request: Request) -> JSONResponse:
    try:
        body = await request.json()
        order = {name: kind(body[name]) for name, kind in ORDER_FIELDS.items()}
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": f"expected JSON with {', '.join(ORDER_FIELDS)} (and optional order_id)"}, 422)
    saga_id = str(body.get("order_id") or uuid.uuid4().hex)
    try:
        await store.create(saga_id, order)
    except DB_ERRORS as exc:
        # The insert may have committed all the same (a lost ack): then the recovery loop drives it.
        return JSONResponse({"error": f"could not record the order: {type(exc).__name__}"}, status_code=503)
    task = runner.start(saga_id)
    # shield: the saga goes on when the request gives up waiting for it. A driver that
    # crashed is resumed by the recovery loop; either way the answer is the stored state.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(task), REQUEST_DEADLINE)
    saga = await _load_quietly(saga_id)
    state = saga.state if saga else "unknown"
    if state in (COMPLETED, COMPENSATED):
        return JSONResponse({"saga_id": saga_id, "state": state, "reason": saga.reason if saga else None})
    if state == COMPENSATION_FAILED:
        # The order failed and could not be undone: an error the client must hear about.
        return JSONResponse({"saga_id": saga_id, "state": state, "reason": saga.reason if saga else None}, 500)
    return JSONResponse({"saga_id": saga_id, "state": state}, status_code=202)


async def _load_quietly(saga_id: str):  # type: ignore[no-untyped-def]
    try:
        return await store.load(saga_id)
    except DB_ERRORS:
        return None


async def get_order(request: Request) -> JSONResponse:
    try:
        saga = await store.load(request.path_params["order_id"])
    except DB_ERRORS as exc:
        return JSONResponse({"error": f"database unavailable: {type(exc).__name__}"}, status_code=503)
    if saga is None:
        return JSONResponse({"error": "no such order"}, status_code=404)
    return JSONResponse({"saga_id": saga.id, "state": saga.state, "reason": saga.reason, "log": saga.log})


async def audit(request: Request) -> JSONResponse:
    # The end-of-run audit asks for a settled state: let sagas in flight finish first (bounded).
    deadline = time.monotonic() + AUDIT_QUIESCE
    while runner.active and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    try:
        sagas = await store.everything()
    except DB_ERRORS as exc:
        return JSONResponse({"audit_error": f"{type(exc).__name__}: {exc}"}, status_code=503)
    return JSONResponse({"service": "orchestrator", "at": time.time(), "steps": [s.name for s in STEPS],
                         "in_flight": sorted(runner.active), "sagas": sagas})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
    global runner
    await pool.wait_ready(timeout=env_float("DB_READY_TIMEOUT", 60.0), setup=store.setup)
    urls = {s.name: os.environ[f"{s.name.upper()}_URL"] for s in STEPS}
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=config.call_timeout))
                   for name, url in urls.items()}
        runner = SagaRunner(store, clients, config)
        recovery = asyncio.create_task(runner.recover_forever())
        try:
            yield
        finally:
            recovery.cancel()
            for task in list(runner.active.values()):
                task.cancel()
            await asyncio.gather(recovery, *runner.active.values(), return_exceptions=True)
            await pool.close()


app = Starlette(routes=[health_route("orchestrator"), metrics_route(), Route("/orders", create_order, methods=["POST"]),
                        Route("/orders/{order_id}", get_order, methods=["GET"]), Route("/audit", audit, methods=["GET"])],
                lifespan=lifespan)

if __name__ == "__main__":
    serve(app, default_port=8100)
