"""Load for the saga target: customers placing orders.

Every order carries its own id (the saga id), so a retry after an error or a timeout asks
for the same saga instead of creating a second one. A retry is named differently
("POST /orders (retry)"): the checks count first attempts to bound how many sagas the run
may have created. One order in eight goes to an undeliverable address and one in twenty
asks for the scarce ``sku-limited``: the saga compensates in the steady state too.

Ids and order contents come from ``random``, which the harness seeds: a run is replayable.
"""
import random

from locust import FastHttpUser, between, task

ANSWERS = {200: ("completed", "compensated"), 202: ("running", "compensating")}


def new_order() -> dict:
    n = random.randrange(1 << 30)
    return {
        "order_id": f"o-{random.getrandbits(48):012x}",
        "customer": f"c{n % 20}",
        "sku": "sku-limited" if n % 20 == 7 else f"sku-{n % 5}",
        "qty": 1 + n % 3,
        "amount_cents": 100 + (n % 4900),
        "address": f"nowhere {n}" if n % 8 == 3 else f"{n % 200} main street",
    }


class OrdersUser(FastHttpUser):
    # A random pause, not a fixed pace: users started together would otherwise fire in
    # lockstep, and a fault's start would land on a burst of requests.
    wait_time = between(0.3, 0.6)
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
                return True
            transport_error = resp.request_meta.get("exception")
            if transport_error is not None and not resp.status_code:
                # Keep the original error: the harness reads a timeout as indeterminate, not failed.
                resp.failure(transport_error)
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:120]}")
            return False
