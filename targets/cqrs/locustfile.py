"""Load for the CQRS target: writers deposit on the command side, readers read the query side.

Deposits go to the entry service (command); reads go straight to the query service, whose
address the harness passes as HARNESS_URL_QUERY. A read may be stale: any well-formed answer
is a success. Accounts and amounts come from the seeded ``random`` (seeded by the harness).
"""
import os
import random

from locust import FastHttpUser, constant_throughput, task

ACCOUNTS = [f"acct-{n:02d}" for n in range(20)]
QUERY_URL = os.environ.get("HARNESS_URL_QUERY", "http://127.0.0.1:8102").rstrip("/")


class Writer(FastHttpUser):
    wait_time = constant_throughput(4)
    # A bounded wait: a request that times out is recorded as indeterminate ('info').
    network_timeout = 5.0
    connection_timeout = 2.0

    @task
    def deposit(self):
        account = random.choice(ACCOUNTS)
        body = {"amount": random.randint(1, 500)}
        with self.client.post(f"/accounts/{account}/deposits", json=body, name="POST /accounts/[id]/deposits",
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
        account = random.choice(ACCOUNTS)
        with self.client.get(f"{QUERY_URL}/accounts/{account}", name="GET /accounts/[id]",
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
