"""Load for the circuit-breaker target: customers placing orders, reading them back, resending some.

Every order carries the client's own ``order_id``: its idempotency key, and how the harness
matches what a client was told with what payments charged (the ``acknowledged_effects``
check). Writes dominate: placing an order is the request whose loss or duplication costs money.

    POST /orders            a new order (two thirds of the requests)
    GET /orders/{id}        one of this user's acknowledged orders, read back (read-your-writes)
    POST /orders (resend)   an acknowledged order sent again, as a client whose answer was lost
                            would: it must be answered, never charged again

A degraded answer ("pending", the fallback) is a success: the user got an answer. The client is
also an oracle: an answer that contradicts what it sent, or what it was told before (an order
that is gone, a paid order that went back to pending, a charge id that changed), fails with a
reason that starts with "wrong answer", which the ``answer_problems`` check counts.
"""
import itertools
import random

from locust import FastHttpUser, constant_throughput, task

# Deterministic amounts (no RNG to seed): 10.99 .. 99.99, cycling.
_amounts = (10 + (n % 90) + 0.99 for n in itertools.count())
_order_numbers = itertools.count(1)
STATUSES = ("paid", "pending")


def problem_with(order, sent_id, sent_amount, seen):
    """Why an answer about an order is wrong, or None. ``seen`` is what this client was told last."""
    if not isinstance(order, dict):
        return "answer is not a JSON object"
    if order.get("order_id") != sent_id:
        return f"order_id is {order.get('order_id')!r}, expected {sent_id!r}"
    if order.get("amount") != sent_amount:
        return f"amount of {sent_id} is {order.get('amount')!r}, expected {sent_amount!r}"
    status = order.get("status")
    if status not in STATUSES:
        return f"status of {sent_id} is {status!r}"
    if status == "paid" and not order.get("charge_id"):
        return f"{sent_id} is paid without a charge_id"
    if status == "pending" and not (order.get("degraded") and order.get("reason")):
        return f"{sent_id} is pending but the answer does not say it is degraded and why"
    if seen is not None and seen[0] == "paid":
        if status != "paid":
            return f"{sent_id} was paid, now it is {status}"
        if order.get("charge_id") != seen[1]:
            return f"{sent_id} was paid by charge {seen[1]}, now by {order.get('charge_id')}"
    return None


class OrdersUser(FastHttpUser):
    # A fixed offered rate per user (not "as fast as possible"), so the call rate that
    # reaches payments while the breaker is open can be compared with the offered rate. A
    # modest rate per user and more users: when payments turns slow, each user has a call in
    # flight, so the breaker meets as many concurrent calls as it would in production.
    wait_time = constant_throughput(5)

    def on_start(self):
        self.placed = {}  # order_id -> (amount, (status, charge_id) last seen)
        self.ids = []

    def _judge(self, resp, order_id, amount):
        """Judge one answer about ``order_id``; remember what it said. True if acknowledged."""
        if resp.status_code != 200:
            resp.failure(f"HTTP {resp.status_code}")
            return False
        try:
            order = resp.json()
        except ValueError:
            resp.failure("answer is not JSON")
            return False
        known = self.placed.get(order_id)
        problem = problem_with(order, order_id, amount, known[1] if known else None)
        if problem:
            resp.failure(f"wrong answer: {problem}")
            return False
        if known is None:
            self.ids.append(order_id)
        self.placed[order_id] = (amount, (order["status"], order.get("charge_id")))
        resp.success()
        return True

    @task(6)
    def place_order(self):
        order_id, amount = f"o{next(_order_numbers)}", next(_amounts)
        with self.client.post("/orders", json={"order_id": order_id, "amount": amount}, name="POST /orders",
                              catch_response=True) as resp:
            self._judge(resp, order_id, amount)

    @task(2)
    def read_order(self):
        if not self.ids:
            return self.place_order()
        order_id = random.choice(self.ids)
        with self.client.get(f"/orders/{order_id}", name="GET /orders/{id}", catch_response=True) as resp:
            if resp.status_code == 404:
                resp.failure(f"wrong answer: acknowledged order {order_id} is not readable (404)")
                return
            self._judge(resp, order_id, self.placed[order_id][0])

    @task(1)
    def resend_order(self):
        if not self.ids:
            return self.place_order()
        order_id = random.choice(self.ids)
        amount = self.placed[order_id][0]
        with self.client.post("/orders", json={"order_id": order_id, "amount": amount},
                              name="POST /orders (resend)", catch_response=True) as resp:
            self._judge(resp, order_id, amount)
