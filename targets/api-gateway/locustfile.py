"""Load for the api-gateway target: clients reading items of two backends through the gateway.

An answer counts as a success only if it is 200 and came from the backend the route names
(a gateway that answered from the wrong backend would be a failure, not a failover). An answer
about another backend or another item than the one asked for is a wrong answer: the failure
reason starts with "wrong answer", which the ``answer_problems`` check counts.
"""
import itertools

from locust import FastHttpUser, between, task

_items = itertools.count(1)


class GatewayUser(FastHttpUser):
    # About 4 requests/s per user; a random wait (seeded by the harness) keeps users out of
    # lock-step, so no burst of requests lands exactly on a fault's start.
    wait_time = between(0.15, 0.35)

    def _get(self, backend: str) -> None:
        item = next(_items) % 1000
        with self.client.get(f"/{backend}/items/{item}", name=f"GET /{backend}/items/{{id}}", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            try:
                doc = resp.json()
            except ValueError:
                resp.failure("answer is not JSON")
                return
            if not isinstance(doc, dict) or doc.get("backend") != backend:
                resp.failure(f"wrong answer: answer is not from backend '{backend}'")
            elif doc.get("item") != {"id": str(item), "name": f"{backend}-item-{item}"}:
                resp.failure(f"wrong answer: asked for item {item} of '{backend}', got {doc.get('item')!r}"[:200])
            else:
                resp.success()

    @task
    def items_a(self):
        self._get("a")

    @task
    def items_b(self):
        self._get("b")
