"""The api-gateway target as real processes: failover, deadline, re-probe, and both defects."""
from __future__ import annotations

import time

import httpx
import pytest

from edge_services import Procs, dead_url, hanging_url, timed_get

pytestmark = pytest.mark.integration


@pytest.fixture
def procs():
    p = Procs("api-gateway")
    try:
        yield p
    finally:
        p.stop_all()


def start_gateway(procs: Procs, a1: str | None = None, **env: str):
    """Gateway over backend a: a real a2, and a1 real unless given a URL (dead, hanging)."""
    a1_url = a1 or procs.start("backend.py", "backend-a1", BACKEND="a").url
    a2 = procs.start("backend.py", "backend-a2", BACKEND="a")
    settings = {"ROUTES": "a=backend-a1,backend-a2", "BACKEND_A1_URL": a1_url, "BACKEND_A2_URL": a2.url,
                "DEADLINE": "1.0", "ATTEMPT_TIMEOUT": "0.4", "FAILURE_THRESHOLD": "2", "REPROBE_INTERVAL": "0.5", **env}
    return procs.start("gateway.py", "gateway", **settings)


def get_items(gateway, n: int) -> list[tuple[httpx.Response, float]]:
    with httpx.Client(timeout=15) as client:
        return [timed_get(client, f"{gateway.url}/a/items/{i}") for i in range(n)]


def test_both_replicas_share_the_load(procs) -> None:
    gw = start_gateway(procs)
    answers = get_items(gw, 6)
    assert all(r.status_code == 200 and r.json()["backend"] == "a" for r, _ in answers)
    assert {r.headers["x-gateway-replica"] for r, _ in answers} == {"backend-a1", "backend-a2"}


def test_a_dead_replica_is_retried_on_its_twin_then_taken_out_of_rotation(procs) -> None:
    gw = start_gateway(procs, a1=dead_url())
    answers = get_items(gw, 8)
    assert [r.status_code for r, _ in answers] == [200] * 8
    assert {r.json()["replica"] for r, _ in answers} == {"backend-a2"}
    # Two requests paid a retry before a1 was marked down; after that, one attempt each.
    assert [r.headers["x-gateway-attempts"] for r, _ in answers].count("2") == 2
    events = gw.events("replica_state")
    assert [(e["replica"], e["state"]) for e in events] == [("backend-a1", "down")]


def test_a_hung_replica_costs_one_attempt_timeout_not_the_deadline(procs) -> None:
    with hanging_url() as hung:
        gw = start_gateway(procs, a1=hung)
        answers = get_items(gw, 6)
    for r, took in answers:
        assert r.status_code == 200 and took < 1.0, f"{r.status_code} after {took:.2f}s"
    assert max(took for _, took in answers) >= 0.35  # the first tries waited out ATTEMPT_TIMEOUT


def test_when_every_attempt_hangs_the_deadline_answers_504(procs) -> None:
    with hanging_url() as hung:
        gw = procs.start("gateway.py", "gateway", ROUTES="a=backend-a1,backend-a2", BACKEND_A1_URL=hung,
                         BACKEND_A2_URL=hung, DEADLINE="0.6", ATTEMPT_TIMEOUT="0.4")
        with httpx.Client(timeout=15) as client:
            r, took = timed_get(client, gw.url + "/a/items/1")
    assert r.status_code == 504 and "deadline of 0.6s exceeded" in r.json()["error"]
    assert [a["outcome"] for a in r.json()["attempts"]] == ["timeout", "timeout"]
    assert 0.55 <= took < 1.2


def test_a_replica_that_comes_back_is_probed_back_into_rotation(procs) -> None:
    a1_url = dead_url()
    gw = start_gateway(procs, a1=a1_url)
    get_items(gw, 4)
    assert [e["state"] for e in gw.events("replica_state")] == ["down"]
    procs.start("backend.py", "backend-a1", port=int(a1_url.rsplit(":", 1)[1]), BACKEND="a")
    deadline = time.monotonic() + 10
    while len(gw.events("replica_state")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [(e["state"], e["reason"]) for e in gw.events("replica_state")][1:] == [("up", "health probe answered")]
    assert {r.headers["x-gateway-replica"] for r, _ in get_items(gw, 4)} == {"backend-a1", "backend-a2"}


def test_the_no_failover_defect_keeps_sending_to_the_dead_replica(procs) -> None:
    gw = start_gateway(procs, a1=dead_url(), FAILOVER="false")
    codes = [r.status_code for r, _ in get_items(gw, 6)]
    assert codes == [502, 200] * 3
    assert gw.events("replica_state") == []


def test_the_no_deadline_defect_waits_on_a_slow_replica(procs) -> None:
    # a1 never answers; without a deadline the gateway waits on it for as long as the client waits.
    with hanging_url() as hung:
        gw = start_gateway(procs, a1=hung, DEADLINE="0")
        with httpx.Client(timeout=2.0) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.get(gw.url + "/a/items/1")  # round robin starts at a1, which never answers
