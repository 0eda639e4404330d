"""Load for the BFF target: web users on web-bff, mobile users on mobile-bff, at the same time.

Locust's host is the entry service (web-bff); mobile users address mobile-bff by the URL the
harness gives every service (HARNESS_URL_MOBILE_BFF). A partial answer is a success if it is
honest about it (see payload_check.py); a malformed or dishonest one, or one about another
product than asked for, is a wrong answer: a failure whose reason starts with "wrong answer",
which the ``answer_problems`` check counts (and the error-rate checks see too).
"""
import os

from locust import FastHttpUser, between, task

from payload_check import mobile_card_problem, web_page_problem


def _judge(resp, problem_of, pid) -> None:
    if resp.status_code != 200:
        resp.failure(f"HTTP {resp.status_code}")
        return
    try:
        doc = resp.json()
    except ValueError:
        resp.failure("answer is not JSON")
        return
    problem = problem_of(doc, pid)
    if problem:
        resp.failure(f"wrong answer: {problem}")
    else:
        resp.success()


class _Shopper(FastHttpUser):
    abstract = True
    # About 4 requests/s per user; a random wait (seeded by the harness) keeps users out of lock-step.
    wait_time = between(0.15, 0.35)
    _product = 0

    def next_product(self) -> int:
        self._product = (self._product + 7) % 1000
        return self._product


class WebUser(_Shopper):
    @task
    def product_page(self):
        pid = self.next_product()
        with self.client.get(f"/web/products/{pid}", name="GET /web/products/{id}", catch_response=True) as resp:
            _judge(resp, web_page_problem, pid)


class MobileUser(_Shopper):
    def on_start(self):
        self.mobile_url = os.environ.get("HARNESS_URL_MOBILE_BFF", self.host).rstrip("/")

    @task
    def product_card(self):
        pid = self.next_product()
        with self.client.get(f"{self.mobile_url}/mobile/products/{pid}", name="GET /mobile/products/{id}",
                             catch_response=True) as resp:
            _judge(resp, mobile_card_problem, pid)
