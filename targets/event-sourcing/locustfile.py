"""Load for the event-sourcing target: deposits and withdrawals on a few shared accounts, and reads.

    LedgerUser  POST deposits / withdrawals   commands on eight shared accounts, one in three on
                                              account 0: concurrent commands on one stream meet the
                                              store's optimistic concurrency, and withdrawals race
                                              for the same balance
    Spender     POST withdrawals              back to back on account 0, whose balance stays near
                                              zero: every deposit landing there is raced for
    Reader      GET /accounts/[id]            the projection, read from the projector

Every command carries its own ``command_id`` (the idempotency key); after an error or a timeout
the user retries once with the same id, named "... (retry)". A withdrawal refused for
insufficient funds (422) is a correct answer, not a failure. With ``load.record_bodies`` the
answers (the event a command was acknowledged with; a projected balance and its version) are
the clients' own record, which the checks hold against the event log.

Ids and amounts come from ``random``, which the harness seeds: a run is replayable.
"""
import os
import random

from locust import FastHttpUser, between, task

ACCOUNTS = 8
PROJECTOR_URL = os.environ.get("HARNESS_URL_PROJECTOR", "http://127.0.0.1:8202").rstrip("/")


def pick_account() -> int:
    return 0 if random.random() < 1 / 3 else random.randrange(ACCOUNTS)


class LedgerUser(FastHttpUser):
    wait_time = between(0.2, 0.4)
    # Above the handler's retry budget (4 s): a command that outlives this is indeterminate.
    network_timeout = 8.0
    connection_timeout = 2.0

    @task(3)
    def deposit(self):
        self._command("deposits", 100 + random.randrange(900))

    @task(2)
    def withdraw(self):
        self._command("withdrawals", 100 + random.randrange(1200))

    def _command(self, kind: str, amount: int) -> None:
        account = pick_account()
        body = {"command_id": f"cmd-{random.getrandbits(48):012x}", "amount_cents": amount}
        name = f"POST {kind}"
        if not self._post(f"/accounts/{account}/{kind}", body, name):
            self._post(f"/accounts/{account}/{kind}", body, name + " (retry)")

    def _post(self, path: str, body: dict, name: str) -> bool:
        with self.client.post(path, json=body, name=name, catch_response=True) as resp:
            if resp.status_code in (200, 422):
                resp.success()
                return True
            _fail(resp)
            return False


class Spender(FastHttpUser):
    """Withdraws from account 0 back to back: its balance stays near zero, so every deposit that
    lands is raced for by concurrent withdrawals that each saw enough money. The store's optimistic
    concurrency must make all but one of them decide again (and be refused)."""

    fixed_count = 2
    wait_time = between(0.02, 0.06)
    network_timeout = 8.0
    connection_timeout = 2.0

    @task
    def withdraw(self):
        body = {"command_id": f"cmd-{random.getrandbits(48):012x}", "amount_cents": 300 + random.randrange(300)}
        with self.client.post("/accounts/0/withdrawals", json=body, name="POST withdrawals", catch_response=True) as resp:
            if resp.status_code in (200, 422):
                resp.success()
            else:
                _fail(resp)


class Reader(FastHttpUser):
    """Reads the projection: stale is fine, a balance the log never had is not."""

    fixed_count = 2
    wait_time = between(0.2, 0.4)
    network_timeout = 8.0
    connection_timeout = 2.0

    @task
    def read(self):
        with self.client.get(f"{PROJECTOR_URL}/accounts/{pick_account()}", name="GET /accounts/[id]",
                             catch_response=True) as resp:
            if resp.status_code in (200, 404):  # 404: not projected yet, a stale answer
                resp.success()
            else:
                _fail(resp)


def _fail(resp) -> None:
    transport_error = resp.request_meta.get("exception")
    if transport_error is not None and not resp.status_code:
        # Keep the original error: the harness reads a timeout as indeterminate, not failed.
        resp.failure(transport_error)
    else:
        resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:120]}")
