"""The participant's ledger (targets/_shared/ledger.py): every call recorded at arrival, and its audit route."""
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
    assert audit["things"] == [1, 2] and audit["calls_dropped"] == 0


def test_the_ledger_is_bounded_and_counts_what_it_dropped() -> None:
    ledger = CallLedger(limit=2)
    with TestClient(app_with(ledger)) as client:
        for n in range(4):
            client.get(f"/work/{n}")
        audit = client.get("/audit").json()
    assert len(audit["calls"]) == 2 and audit["calls_dropped"] == 3
