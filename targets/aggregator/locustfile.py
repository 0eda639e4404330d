"""Load for the aggregator target: users opening their dashboard.

A partial dashboard is a success here (the user got an answer), but only if it is honest:
every part has a status, ``missing`` lists exactly the parts that are not ``ok``, ``partial``
is true exactly when something is missing, and a missing part carries no data. An answer
that breaks any of these, or carries a part about someone else, is a wrong answer: a failure
whose reason starts with "wrong answer", which the ``answer_problems`` check counts (and the
error-rate checks see too).
"""
import itertools

from locust import FastHttpUser, between, task

from dashboard_check import inconsistency

_users = itertools.count(1)


class DashboardUser(FastHttpUser):
    # About 4 requests/s per user. A random wait (seeded by the harness), not constant_throughput:
    # users spawned together would otherwise fire in lock-step bursts for the whole run, and a
    # burst that meets a fault's start skews both windows around it.
    wait_time = between(0.15, 0.35)

    def on_start(self):
        self.user_id = next(_users)

    @task
    def dashboard(self):
        with self.client.get(f"/dashboard/{self.user_id}", name="GET /dashboard/{user}", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            try:
                doc = resp.json()
            except ValueError:
                resp.failure("answer is not JSON")
                return
            problem = inconsistency(doc, str(self.user_id))
            if problem:
                resp.failure(f"wrong answer: {problem}")
            else:
                resp.success()
