"""Load for the anti-corruption-layer target: a back office looking up customers' standing.

A 503 (the record could not be read) is a failed request; what the answers contain is judged
by the experiment's conformance checks from the recorded bodies, not here.
"""
import itertools

from locust import FastHttpUser, constant_throughput, task

# Deterministic ids (no RNG to seed), cycling through 1..2000: every one exists in legacy.
_ids = (1 + n % 2000 for n in itertools.count())


class BackOfficeUser(FastHttpUser):
    wait_time = constant_throughput(5)

    @task
    def standing(self):
        path = f"/customers/{next(_ids)}/standing"
        with self.client.get(path, name="GET /customers/[id]/standing", catch_response=True) as resp:
            if resp.status_code == 200:
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}")
