"""orders: takes orders and charges them at payments through a circuit breaker.

When payments fails (error, timeout, 5xx) or the breaker is open, the order is still
accepted: it is stored as "pending" and the answer says why. Pending orders are charged
later: every RECONCILE_INTERVAL a sweep tries each again, through the same breaker. That is
safe because the order id is the idempotency key: payments charges an order at most once, so
a charge that went through after orders gave up on it is answered, not made again. A client
may send its own ``order_id`` (and send it again: the same order is answered, never charged
twice; the same id with another amount is a 409).

    HOST=127.0.0.1 PORT=8001 PAYMENTS_URL=http://127.0.0.1:8002 PYTHONPATH=../_shared python orders.py

Env: PAYMENTS_URL, PAYMENTS_TIMEOUT (s, 0.5), BREAKER_ENABLED (true),
BREAKER_FAILURE_THRESHOLD (5), BREAKER_RESET_TIMEOUT (s, 2.0), BREAKER_HALF_OPEN_MAX_CALLS (1),
RECONCILE_INTERVAL (s, 1.0), BREAKER_COUNTS_5XX (true), ORDERS_STORE (a JSON-lines file: every
acknowledged order and each change of it, replayed at start, so a crashed and restarted orders
still answers and still charges what it acknowledged; unset: memory only).
BREAKER_ENABLED=false is the "breaker-disabled" defect: every call waits on payments.
BREAKER_COUNTS_5XX=false is the "breaker-ignores-5xx" defect: only errors and timeouts count as
failures, so a payments that answers 500 fast never opens the breaker (its 500 reaches users).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid

import httpx
from prometheus_client import Counter, Enum, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from breaker import STATES, BreakerOpen, CircuitBreaker
from servicekit import emit_event, env_flag, env_float, env_int, health_route, metrics_route, serve

PAYMENTS_URL = os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8002").rstrip("/")
PAYMENTS_TIMEOUT = env_float("PAYMENTS_TIMEOUT", 0.5)
BREAKER_ENABLED = env_flag("BREAKER_ENABLED", True)
BREAKER_COUNTS_5XX = env_flag("BREAKER_COUNTS_5XX", True)
RECONCILE_INTERVAL = env_float("RECONCILE_INTERVAL", 1.0)
SWEEP_BATCH = 5  # pending orders charged at once by a sweep: a catch-up, not a burst

BREAKER_STATE = Enum("circuit_breaker_state", "Current breaker state", ["breaker"], states=list(STATES))
BREAKER_TRANSITIONS = Counter(
    "circuit_breaker_transitions_total", "Breaker state changes", ["breaker", "previous", "state"]
)
ORDERS = Counter("orders_total", "Orders answered", ["status", "reason"])
# Calls that actually left for payments: while the breaker is open this should stay at
# the probe rate, which is what the harness checks.
PAYMENTS_CALLS = Counter("orders_payments_calls_total", "Calls sent to payments", ["outcome"])
PAYMENTS_LATENCY = Histogram("orders_payments_call_seconds", "Time spent calling payments")


class PaymentsError(Exception):
    """payments answered 5xx: it is unhealthy, and the breaker must count it."""


def _on_breaker_change(previous: str, state: str) -> None:
    emit_event("breaker_state", state=state, previous=previous, breaker="payments")
    BREAKER_STATE.labels("payments").state(state)
    BREAKER_TRANSITIONS.labels("payments", previous, state).inc()


breaker: CircuitBreaker | None = None
if BREAKER_ENABLED:
    breaker = CircuitBreaker(
        "payments",
        failure_threshold=env_int("BREAKER_FAILURE_THRESHOLD", 5),
        reset_timeout=env_float("BREAKER_RESET_TIMEOUT", 2.0),
        half_open_max_calls=env_int("BREAKER_HALF_OPEN_MAX_CALLS", 1),
    )
    breaker.add_listener(_on_breaker_change)
    BREAKER_STATE.labels("payments").state(breaker.state)

orders: dict[str, dict] = {}  # order_id -> order; kept in ORDERS_STORE too when it is set
STORE = os.environ.get("ORDERS_STORE", "")


def remember(order: dict) -> None:
    """Append the order as it now is: an acknowledged order must outlive a crash of this process.

    A write reaches the OS before the answer leaves, which survives a killed process (not a
    host crash: no fsync per order, as a test target's trade-off).
    """
    if STORE:
        with open(STORE, "a", encoding="utf-8") as f:
            f.write(json.dumps(order) + "\n")


def _replay() -> None:
    if not STORE:
        return
    os.makedirs(os.path.dirname(STORE) or ".", exist_ok=True)
    if not os.path.isfile(STORE):
        return
    with open(STORE, encoding="utf-8") as f:
        for line in f:
            with contextlib.suppress(ValueError):  # a line cut by the crash: its answer never left
                order = json.loads(line)
                orders[order["order_id"]] = order


_replay()
client: httpx.AsyncClient  # created in lifespan, on the server's event loop


async def charge(order_id: str, amount: float) -> httpx.Response:
    """One call to payments. Raises on error, timeout, 5xx and garbled 200; returns any other answer."""
    outcome = "error"
    try:
        with PAYMENTS_LATENCY.time():
            # asyncio.timeout bounds the whole call; httpx's own timeout is per phase
            # (connect, read, ...) and could add up to several times PAYMENTS_TIMEOUT.
            async with asyncio.timeout(PAYMENTS_TIMEOUT):
                response = await client.post("/charge", json={"order_id": order_id, "amount": amount})
        if response.status_code >= 500 and BREAKER_COUNTS_5XX:
            raise PaymentsError(f"payments answered {response.status_code}")
        if response.status_code == 200:
            try:
                response.json()
            except ValueError:
                # A garbled answer (e.g. a truncating fault) is as bad as no answer.
                raise PaymentsError("payments answered 200 without valid JSON") from None
        outcome = "ok"
        return response
    except (TimeoutError, httpx.TimeoutException):
        outcome = "timeout"
        raise
    finally:
        PAYMENTS_CALLS.labels(outcome).inc()


async def create_order(request: Request) -> JSONResponse:
    try:
        body = await request.json()
        amount = float(body["amount"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "expected JSON {amount, order_id?}"}, status_code=422)
    if amount <= 0:
        return JSONResponse({"error": "amount must be positive"}, status_code=422)
    order = {"order_id": str(body.get("order_id") or uuid.uuid4().hex), "amount": amount}
    existing = orders.get(order["order_id"])
    if existing is not None:
        # A client that resends an order (its answer was lost) gets the order it placed.
        if existing["amount"] != amount:
            return JSONResponse({"error": "this order_id was placed with another amount"}, status_code=409)
        return JSONResponse(existing)

    try:
        if breaker is not None:
            response = await breaker.call(charge, order["order_id"], amount)
        else:
            response = await charge(order["order_id"], amount)
    except BreakerOpen:
        return _fallback(order, "breaker-open")
    except (httpx.HTTPError, TimeoutError, PaymentsError):
        return _fallback(order, "payments-unavailable")

    if response.status_code != 200:
        # payments is up but refused the charge (4xx): not an outage, so no fallback.
        ORDERS.labels("rejected", "").inc()
        return JSONResponse({"error": "payments rejected the charge", "upstream_status": response.status_code}, 502)
    order.update(status="paid", charge_id=response.json().get("charge_id"))
    orders[order["order_id"]] = order
    remember(order)
    ORDERS.labels("paid", "").inc()
    return JSONResponse(order)


def _fallback(order: dict, reason: str) -> JSONResponse:
    # Accept the order for later payment: the user is not failed because payments is.
    order.update(status="pending", degraded=True, reason=reason)
    orders[order["order_id"]] = order
    remember(order)
    ORDERS.labels("pending", reason).inc()
    return JSONResponse(order)


async def get_order(request: Request) -> JSONResponse:
    order = orders.get(request.path_params["order_id"])
    if order is None:
        return JSONResponse({"error": "no such order"}, status_code=404)
    return JSONResponse(order)


async def charge_pending_orders() -> None:
    """The "charged later" of a pending order: sweep every RECONCILE_INTERVAL, through the breaker.

    A sweep charges SWEEP_BATCH orders at a time and stops when the breaker refuses: while
    payments is unwell the breaker decides how much of the backlog may reach it.
    """
    while True:
        await asyncio.sleep(RECONCILE_INTERVAL)
        pending = [o for o in orders.values() if o["status"] == "pending"]
        for start in range(0, len(pending), SWEEP_BATCH):
            admitted = await asyncio.gather(*(_settle(o) for o in pending[start:start + SWEEP_BATCH]))
            if not all(admitted):
                break  # the breaker is open: the next sweep tries again


async def _settle(order: dict) -> bool:
    """Charge one pending order; False when the breaker refused the call."""
    try:
        if breaker is not None:
            response = await breaker.call(charge, order["order_id"], order["amount"])
        else:
            response = await charge(order["order_id"], order["amount"])
    except BreakerOpen:
        return False
    except (httpx.HTTPError, TimeoutError, PaymentsError):
        return True  # a failure the breaker has counted; this order waits for the next sweep
    if response.status_code == 200 and order["status"] == "pending":
        order.update(status="paid", charge_id=response.json().get("charge_id"), degraded=False)
        remember(order)
        ORDERS.labels("settled", order.get("reason", "")).inc()
    return True


@contextlib.asynccontextmanager
async def lifespan(app):
    global client
    async with httpx.AsyncClient(base_url=PAYMENTS_URL, timeout=PAYMENTS_TIMEOUT) as client:
        sweeper = asyncio.create_task(charge_pending_orders())
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper


app = Starlette(
    routes=[
        health_route("orders"),
        metrics_route(),
        Route("/orders", create_order, methods=["POST"]),
        Route("/orders/{order_id}", get_order, methods=["GET"]),
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    serve(app, default_port=8001)
