"""Load for the CQRS target: writers deposit on the command side, readers read the query side.

    Writer  POST /accounts/[id]/deposits   the command side; its answer names the update
                                           (event_id, position): the client's own acknowledgement
    Reader  GET /accounts/[id]             the query side (HARNESS_URL_QUERY): balance, number of
                                           updates and the position the read model is as of

A read may be stale: any well-formed answer is a success, and the checks judge the content
(recorded with ``load.record_bodies``) against the command side's log. One write and one read
in three go to ``acct-00``: contention on one aggregate, and a key read while it is written.
Accounts and amounts come from the seeded ``random`` (seeded by the harness).
"""
import os
import random

from locust import FastHttpUser, constant_throughput, task

ACCOUNTS = [f"acct-{n:02d}" for n in range(20)]
HOT = ACCOUNTS[0]
QUERY_URL = os.environ.get("HARNESS_URL_QUERY", "http://127.0.0.1:8102").rstrip("/")


def pick_account() -> str:
    return HOT if random.random() < 1 / 3 else random.choice(ACCOUNTS)


class Writer(FastHttpUser):
    wait_time = constant_throughput(4)
    # A bounded wait: a request that times out is recorded as indeterminate ('info').
    network_timeout = 5.0
    connection_timeout = 2.0

    @task
    def deposit(self):
        body = {"amount": random.randint(1, 500)}
        with self.client.post(f"/accounts/{pick_account()}/deposits", json=body, name="POST /accounts/[id]/deposits",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            elif "position" not in (_json(resp) or {}):
                resp.failure("answer has no 'position'")


class Reader(FastHttpUser):
    wait_time = constant_throughput(5)
    network_timeout = 5.0
    connection_timeout = 2.0

    @task
    def read(self):
        with self.client.get(f"{QUERY_URL}/accounts/{pick_account()}", name="GET /accounts/[id]",
                             catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            elif "balance" not in (_json(resp) or {}):
                resp.failure("answer has no 'balance'")


def _json(resp):
    try:
        return resp.json()
    except ValueError:
        return None
