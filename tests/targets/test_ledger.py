"""The participant's ledger (targets/_shared/ledger.py): calls recorded at arrival, audited after quiescence."""
from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ledger import CallLedger


def app_with(ledger: CallLedger) -> Starlette:
    async def work(request):
        return PlainTextResponse("done")

    return Starlette(routes=[Route("/work/{n}", work, methods=["GET", "POST"]), Route("/health", work),
                             ledger.audit_route(lambda: {"things": [1, 2]})],
                     middleware=[ledger.middleware()])


def test_every_call_is_recorded_at_arrival_with_its_method_and_path() -> None:
    ledger = CallLedger()
    with TestClient(app_with(ledger)) as client:
        before = time.time()
        client.get("/work/1")
        client.post("/work/2")
        client.get("/nowhere")  # a 404 reached the service too
        audit = client.get("/audit").json()
    assert [c[1:] for c in audit["calls"]] == [["GET", "/work/1"], ["POST", "/work/2"], ["GET", "/nowhere"],
                                               ["GET", "/audit"]]
    assert before - 1 <= audit["calls"][0][0] <= time.time()
    assert audit["things"] == [1, 2] and audit["calls_dropped"] == 0 and audit["quiet_for_s"] is None


def test_the_ledger_is_bounded_and_counts_what_it_dropped() -> None:
    ledger = CallLedger(limit=2)
    with TestClient(app_with(ledger)) as client:
        for n in range(4):
            client.get(f"/work/{n}")
        audit = client.get("/audit").json()
    assert len(audit["calls"]) == 2 and audit["calls_dropped"] == 3


def test_the_audit_waits_until_no_work_arrived_for_quiet_seconds() -> None:
    ledger = CallLedger()
    with TestClient(app_with(ledger)) as client:
        client.get("/work/1")
        client.get("/health")  # not work: does not keep the service busy
        started = time.monotonic()
        audit = client.get("/audit?quiet=0.4").json()
        waited = time.monotonic() - started
    assert 0.3 <= waited < 2.0
    assert audit["quiet_for_s"] >= 0.4


def test_the_audit_waits_no_longer_than_max_wait() -> None:
    ledger = CallLedger()
    with TestClient(app_with(ledger)) as client:
        client.get("/work/1")
        started = time.monotonic()
        audit = client.get("/audit?quiet=30&max_wait=0.3").json()
        assert time.monotonic() - started < 2.0
        assert audit["quiet_for_s"] < 30
        assert client.get("/audit?quiet=x").status_code == 400
