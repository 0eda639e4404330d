"""Load for the anti-corruption-layer target: a back office looking up customers' standing.

Mostly customers that exist (1..2000), and one lookup in twenty for a customer number legacy
does not know (5001..): that must be a clean 404, not an error. A 503 (the record could not be
read) is a failed request. The client is also an oracle (record_oracle.py): a 200 that differs
from what the system of record holds, or a 404 for a customer that exists, is a wrong answer, a
failure whose reason starts with "wrong answer", which the ``answer_problems`` check counts.
The shape of every answer is judged by the experiment's conformance checks from the recorded
bodies.
"""
import itertools

from locust import FastHttpUser, constant_throughput, task

from record_oracle import difference, expected

# Deterministic ids (no RNG to seed), cycling through 1..2000: every one exists in legacy.
_ids = (1 + n % 2000 for n in itertools.count())
_unknown = (5001 + n % 999 for n in itertools.count())


def _judge(resp, customer_id):
    if resp.status_code == 200:
        try:
            problem = difference(resp.json(), customer_id)
        except ValueError:
            problem = "the answer is not JSON"
        if problem:
            resp.failure(f"wrong answer: {problem}")
        else:
            resp.success()
    elif resp.status_code == 404:
        if expected(customer_id) is None:
            resp.success()
        else:
            resp.failure(f"wrong answer: customer {customer_id} exists, the domain answered 404")
    else:
        resp.failure(f"HTTP {resp.status_code}")


class BackOfficeUser(FastHttpUser):
    wait_time = constant_throughput(5)

    @task(19)
    def standing(self):
        customer_id = next(_ids)
        with self.client.get(f"/customers/{customer_id}/standing", name="GET /customers/[id]/standing",
                             catch_response=True) as resp:
            _judge(resp, customer_id)

    @task(1)
    def unknown_customer(self):
        customer_id = next(_unknown)
        with self.client.get(f"/customers/{customer_id}/standing", name="GET /customers/[unknown]/standing",
                             catch_response=True) as resp:
            _judge(resp, customer_id)
