"""Load for the event-sourcing target: deposits and withdrawals on a few shared accounts.

Eight accounts shared by every user: concurrent commands on one stream meet the store's
optimistic concurrency. Every command carries its own ``command_id`` (the idempotency key);
after an error or a timeout the user retries once with the same id, named "... (retry)".
A withdrawal refused for insufficient funds (422) is a correct answer, not a failure.

Ids and amounts come from ``random``, which the harness seeds: a run is replayable.
"""
import random

from locust import FastHttpUser, between, task

ACCOUNTS = 8


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
        account = random.randrange(ACCOUNTS)
        body = {"command_id": f"cmd-{random.getrandbits(48):012x}", "amount_cents": amount}
        name = f"POST {kind}"
        if not self._post(f"/accounts/{account}/{kind}", body, name):
            self._post(f"/accounts/{account}/{kind}", body, name + " (retry)")

    def _post(self, path: str, body: dict, name: str) -> bool:
        with self.client.post(path, json=body, name=name, catch_response=True) as resp:
            if resp.status_code in (200, 422):
                resp.success()
                return True
            transport_error = resp.request_meta.get("exception")
            if transport_error is not None and not resp.status_code:
                # Keep the original error: the harness reads a timeout as indeterminate, not failed.
                resp.failure(transport_error)
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:120]}")
            return False
