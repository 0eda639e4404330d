"""Load for the database-per-service target: four kinds of users, one per data path.

    Shopper  GET /products/[id]     catalog -> catalog's database
    Member   GET /users/[id]        users -> users' database
    Tracker  GET /orders/[id]       orders -> orders' database
    Buyer    POST /orders           orders -> users + catalog (HTTP) -> orders' database; one in ten
                                    orders names an unknown user and one in ten an unknown product
                                    (refused with 422)

Two users each of the first three kinds and five buyers (``fixed_count``; 11 users in all): more
concurrent orders than a service's pool has connections.
One path per user class: a user waits for each answer, so a slow path sharing a user with a
fast one would slow the fast one's requests down too, on the client, and hide (or fake) the
isolation being measured. Request names say which endpoint was hit, so checks can select the
paths that do not need a faulted database. Ids come from the seeded ``random``.
"""
import os
import random

import gevent
from locust import FastHttpUser, constant_throughput, task

CATALOG_URL = os.environ.get("HARNESS_URL_CATALOG", "http://127.0.0.1:8201").rstrip("/")
USERS_URL = os.environ.get("HARNESS_URL_USERS", "http://127.0.0.1:8202").rstrip("/")


class _User(FastHttpUser):
    abstract = True
    fixed_count = 2
    wait_time = constant_throughput(4)
    network_timeout = 5.0  # a request that times out is recorded as indeterminate ('info')
    connection_timeout = 2.0

    def on_start(self):
        # A random phase: users spawned at a fixed rate with a fixed throughput otherwise fire in
        # lockstep bursts, and a fault applied on a burst catches every user mid-request.
        gevent.sleep(random.random() / 4)

    def _get(self, url, name, field):
        with self.client.get(url, name=name, catch_response=True) as resp:
            _judge(resp, field)


class Shopper(_User):
    @task
    def product(self):
        self._get(f"{CATALOG_URL}/products/{random.randint(1, 100)}", "GET /products/[id]", "price_cents")


class Member(_User):
    @task
    def profile(self):
        self._get(f"{USERS_URL}/users/{random.randint(1, 100)}", "GET /users/[id]", "name")


class Tracker(_User):
    @task
    def order_status(self):
        self._get(f"/orders/{random.randint(1, 50)}", "GET /orders/[id]", "total_cents")


class Buyer(_User):
    # More buyers than a service's pool has connections (4): a pool held across the remote calls
    # of POST /orders, or shared between paths, runs dry under them.
    fixed_count = 5

    @task
    def place_order(self):
        # One order in ten names a user, and one in ten a product, that does not exist: the right
        # answer is a refusal (422), and an order stored for one is a check that was skipped.
        n = random.randrange(10)
        user = random.randint(1001, 1100) if n == 0 else random.randint(1, 100)
        product = random.randint(1001, 1100) if n == 1 else random.randint(1, 100)
        body = {"user_id": user, "product_id": product, "quantity": 1 + random.randrange(3)}
        with self.client.post("/orders", json=body, name="POST /orders", catch_response=True) as resp:
            _judge(resp, "total_cents", expect=422 if n in (0, 1) else 200)


def _judge(resp, field, expect=200):
    if resp.status_code != expect:
        resp.failure(f"HTTP {resp.status_code}")
        return
    if expect != 200:
        resp.success()  # the refusal that was asked for
        return
    try:
        ok = field in resp.json()
    except ValueError:
        ok = False
    if not ok:
        resp.failure(f"answer has no '{field}'")
