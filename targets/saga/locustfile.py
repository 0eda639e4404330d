"""Load for the saga target: customers placing orders, and customers following them.

    OrdersUser  POST /orders           places an order; after an error or a timeout it retries once
                                       with the same order id ("POST /orders (retry)"): same saga
    Tracker     GET /orders/[id]       reads back an order this run already had acknowledged:
                                       a path that needs only the orchestrator's own database

Every order carries its own id (the saga id), so a retry asks for the same saga instead of
creating a second one; the checks count first attempts to bound how many sagas may exist.
One order in eight goes to an undeliverable address, one in twenty asks for the scarce
``sku-limited`` and one in ten is paid by ``c-scarce``, whose balance runs out mid-run:
concurrent orders contend on one sku and one balance, and sagas compensate in the steady
state too. With ``load.record_bodies`` the answers (saga id and state) are the client's own
record of what it was told, which the checks hold against the participants' ledgers.

Ids and order contents come from ``random``, which the harness seeds: a run is replayable.
"""
import random
from collections import deque

from locust import FastHttpUser, between, task

ANSWERS = {200: ("completed", "compensated"), 202: ("running", "compensating")}
# Ids of orders this run had acknowledged (200 or 202): what a Tracker reads back.
acknowledged: deque = deque(maxlen=200)


def new_order() -> dict:
    n = random.randrange(1 << 30)
    return {
        "order_id": f"o-{random.getrandbits(48):012x}",
        "customer": "c-scarce" if n % 10 == 1 else f"c{n % 20}",
        "sku": "sku-limited" if n % 20 == 7 else f"sku-{n % 5}",
        "qty": 1 + n % 3,
        "amount_cents": 100 + (n % 4900),
        "address": f"nowhere {n}" if n % 8 == 3 else f"{n % 200} main street",
    }


class OrdersUser(FastHttpUser):
    # A random pause, not a fixed pace: users started together would otherwise fire in
    # lockstep, and a fault's start would land on a burst of requests.
    wait_time = between(0.2, 0.4)
    # Well above the orchestrator's own deadline (1 s): a request that outlives this is indeterminate.
    network_timeout = 8.0
    connection_timeout = 2.0

    @task
    def place_order(self):
        order = new_order()
        if not self._post(order, "POST /orders"):
            self._post(order, "POST /orders (retry)")

    def _post(self, order: dict, name: str) -> bool:
        with self.client.post("/orders", json=order, name=name, catch_response=True) as resp:
            try:
                state = resp.json().get("state") if resp.status_code in ANSWERS else None
            except (ValueError, AttributeError):
                state = None
            if state in ANSWERS.get(resp.status_code, ()):
                resp.success()
                acknowledged.append(order["order_id"])
                return True
            _fail(resp)
            return False


class Tracker(FastHttpUser):
    """Follows acknowledged orders: an order the client was told about must be readable."""

    wait_time = between(0.2, 0.4)
    network_timeout = 8.0
    connection_timeout = 2.0

    @task
    def follow_order(self):
        if not acknowledged:
            return  # nothing acknowledged yet: no request, rather than one that proves nothing
        order_id = random.choice(acknowledged)
        with self.client.get(f"/orders/{order_id}", name="GET /orders/[id]", catch_response=True) as resp:
            if resp.status_code == 200:
                resp.success()
            else:
                _fail(resp)


def _fail(resp) -> None:
    transport_error = resp.request_meta.get("exception")
    if transport_error is not None and not resp.status_code:
        # Keep the original error: the harness reads a timeout as indeterminate, not failed.
        resp.failure(transport_error)
    else:
        resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:120]}")
