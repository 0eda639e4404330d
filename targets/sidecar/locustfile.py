"""Load for the sidecar target: shoppers looking up products, and reserving some.

ProductUser (three users in four):
    GET /products/[id]                a product (stock from inventory, through the sidecar): 75%
    GET /products/[unknown]           a product that does not exist (404, not a fault): 10%
    POST /products/[id]/reservations  one unit of a popular product (20 products share the
                                      load: contention on a few keys): 15%
CatalogUser (one user in four), browsing on its own, so a slow upstream does not slow its pace:
    GET /products/[id]/info           the app's own catalog entry (no upstream)

A 503 from the app (inventory or the sidecar unavailable) is a failed request: the checks
measure how often that happens and how long each request takes. Each reservation carries the
client's own ``ref``, so the harness can match the reservations it was told about with those
inventory made. The client is also an oracle: an answer that contradicts what it asked for
(another product, another reservation, a degraded answer that does not say so) fails with a
reason starting "wrong answer", which the ``answer_problems`` check counts.
"""
import itertools

from locust import FastHttpUser, constant_throughput, task

# Deterministic ids (no RNG to seed), cycling through 1..500.
_ids = (1 + n % 500 for n in itertools.count())
_unknown = (20_001 + n % 999 for n in itertools.count())
HOT_ITEMS = 20
_hot = (1 + n % HOT_ITEMS for n in itertools.count())
_refs = itertools.count(1)


def _json(resp):
    try:
        return resp.json()
    except (ValueError, TypeError):
        return None


def _degraded_problem(resp):
    doc = _json(resp)
    if not isinstance(doc, dict) or doc.get("degraded") is not True or not doc.get("error"):
        return "wrong answer: a 503 that does not say it is degraded and why"
    return None


class ProductUser(FastHttpUser):
    # A fixed offered rate per user, so the request count per window does not depend on how
    # slow the answers are (as long as they are faster than 200 ms).
    weight = 3
    wait_time = constant_throughput(5)

    @task(15)
    def product(self):
        pid = next(_ids)
        with self.client.get(f"/products/{pid}", name="GET /products/[id]", catch_response=True) as resp:
            if resp.status_code == 503:
                resp.failure(_degraded_problem(resp) or "HTTP 503")
                return
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            doc = _json(resp)
            if not isinstance(doc, dict) or "in_stock" not in doc:
                resp.failure("answer has no 'in_stock'")
            elif doc.get("id") != str(pid) or doc.get("name") != f"item-{pid}":
                resp.failure(f"wrong answer: asked for product {pid}, got {doc.get('id')!r} {doc.get('name')!r}")
            elif not isinstance(doc.get("stock"), int) or doc["in_stock"] != (doc["stock"] > 0):
                resp.failure(f"wrong answer: stock {doc.get('stock')!r} with in_stock {doc.get('in_stock')!r}")
            elif pid > HOT_ITEMS and doc["stock"] != (pid * 7) % 13 + 500:
                # Nobody reserves these: their stock is what inventory started with.
                resp.failure(f"wrong answer: product {pid} has stock {(pid * 7) % 13 + 500}, answered {doc['stock']}")
            else:
                resp.success()

    @task(2)
    def unknown_product(self):
        with self.client.get(f"/products/{next(_unknown)}", name="GET /products/[unknown]",
                             catch_response=True) as resp:
            if resp.status_code == 404:
                resp.success()
            elif resp.status_code == 503:
                resp.failure(_degraded_problem(resp) or "HTTP 503")
            else:
                resp.failure(f"wrong answer: an unknown product answered {resp.status_code}, not 404")

    @task(3)
    def reserve(self):
        pid, ref = next(_hot), f"r{next(_refs)}"
        with self.client.post(f"/products/{pid}/reservations", json={"ref": ref, "qty": 1},
                              name="POST /products/[id]/reservations", catch_response=True) as resp:
            if resp.status_code == 503:
                resp.failure(_degraded_problem(resp) or "HTTP 503")
                return
            if resp.status_code == 409:
                resp.success()  # sold out is an answer, not a failure
                return
            if resp.status_code != 201:
                resp.failure(f"HTTP {resp.status_code}")
                return
            doc = _json(resp)
            if not isinstance(doc, dict) or (doc.get("ref"), doc.get("product"), doc.get("qty")) != (ref, str(pid), 1):
                resp.failure(f"wrong answer: reserved {ref} for product {pid}, got {doc!r}"[:200])
            else:
                resp.success()



class CatalogUser(FastHttpUser):
    weight = 1
    wait_time = constant_throughput(5)

    @task
    def info(self):
        pid = next(_ids)
        with self.client.get(f"/products/{pid}/info", name="GET /products/[id]/info", catch_response=True) as resp:
            doc = _json(resp) if resp.status_code == 200 else None
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            elif not isinstance(doc, dict) or doc.get("id") != str(pid):
                resp.failure(f"wrong answer: asked for the info of {pid}, got {doc!r}"[:200])
            else:
                resp.success()
