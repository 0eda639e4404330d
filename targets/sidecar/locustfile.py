"""Load for the sidecar target: shoppers looking up products.

A 503 from the app (inventory or the sidecar unavailable) is a failed request: the checks
measure how often that happens and how long each request takes.
"""
import itertools

from locust import FastHttpUser, constant_throughput, task

# Deterministic ids (no RNG to seed), cycling through 1..500.
_ids = (1 + n % 500 for n in itertools.count())


class ProductUser(FastHttpUser):
    # A fixed offered rate per user, so the request count per window does not depend on how
    # slow the answers are (as long as they are faster than 200 ms).
    wait_time = constant_throughput(5)

    @task
    def product(self):
        with self.client.get(f"/products/{next(_ids)}", name="GET /products/[id]", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            try:
                ok = "in_stock" in resp.json()
            except (ValueError, TypeError):
                ok = False
            if ok:
                resp.success()
            else:
                resp.failure("answer has no 'in_stock'")
