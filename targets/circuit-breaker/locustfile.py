"""Load for the circuit-breaker target: customers placing orders.

A degraded answer ("pending", the fallback) is a success here: the user got an answer.
The harness's checks read the status of each order from its own request records.
"""
import itertools

from locust import FastHttpUser, constant_throughput, task

# Deterministic amounts (no RNG to seed): 10.99 .. 99.99, cycling.
_amounts = (10 + (n % 90) + 0.99 for n in itertools.count())


class OrdersUser(FastHttpUser):
    # A fixed offered rate per user (not "as fast as possible"), so the call rate that
    # reaches payments while the breaker is open can be compared with the offered rate.
    wait_time = constant_throughput(10)

    @task
    def place_order(self):
        body = {"amount": next(_amounts), "customer": f"user-{id(self) % 10_000}"}
        with self.client.post("/orders", json=body, name="POST /orders", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            try:
                status = resp.json().get("status")
            except (ValueError, AttributeError):
                status = None
            if not status:
                resp.failure("answer has no 'status'")
            else:
                resp.success()
