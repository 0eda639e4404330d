"""The event-sourcing client-side checks (targets/event-sourcing/client_checks.py) on hand-written
histories: the log is the authority, the clients' recorded answers what the system said."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import plugins
from harness.checks.registry import Outcome, check_types
from harness.checks.windows import Windows
from harness.journal import History
from harness.system import load_system

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_000_000.0


@pytest.fixture(scope="module", autouse=True)
def es_plugin() -> None:
    plugins.load_for(load_system(ROOT / "targets" / "event-sourcing" / "system.yaml"))


def ev(seq: int, stream: str, version: int, kind: str, amount: int) -> dict[str, Any]:
    return {"seq": seq, "stream_id": stream, "version": version, "event_id": f"e{seq}", "command_id": f"cmd-{seq}",
            "type": kind, "amount": amount}


LOG = [ev(1, "acct-0", 1, "deposited", 500), ev(2, "acct-1", 1, "deposited", 300), ev(3, "acct-0", 2, "withdrawn", 200),
       ev(4, "acct-0", 3, "withdrawn", 300)]


def command(t: float, event: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {"kind": "request", "t": T0 + t, "name": "POST deposits", "method": "POST", "ms": 4.0, "outcome": "ok",
            "status": status, "body": json.dumps({**event, "balance_cents": 0})}


def read(t: float, stream: str, balance: int, version: int) -> dict[str, Any]:
    return {"kind": "request", "t": T0 + t, "name": "GET /accounts/[id]", "method": "GET", "ms": 2.0, "outcome": "ok",
            "status": 200, "body": json.dumps({"stream_id": stream, "balance_cents": balance, "version": version})}


def history(requests: list[dict[str, Any]], log: list[dict[str, Any]] = LOG) -> History:
    return History([{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                    {"kind": "load_started", "t": T0}, *requests, {"kind": "load_stopped", "t": T0 + 30},
                    {"kind": "audit", "t": T0 + 31, "service": "commands", "state": {"events": log}}])


def run(name: str, h: History) -> Outcome:
    ctype = check_types.get(name)
    return ctype.run(h, ctype.Params(), Windows(h))


def test_commands_answered_with_events_the_log_holds_pass() -> None:
    out = run("es_client_acks_durable", history([command(1, LOG[0]), command(2, LOG[2])]))
    assert out.verdict == "passed" and out.evidence["answered_200"] == 2


def test_a_command_answered_200_for_an_event_the_log_lacks_fails_naming_it() -> None:
    ghost = ev(9, "acct-0", 4, "deposited", 50)
    out = run("es_client_acks_durable", history([command(1, LOG[0]), command(5, ghost)]))
    assert out.verdict == "failed"
    assert "1 of 2 commands answered 200 name an event the log does not hold there, e.g. e9 (acct-0 v4, seq 9, cmd-9)" \
        in out.summary


def test_an_event_answered_at_another_version_than_the_log_holds_fails() -> None:
    moved = {**LOG[2], "version": 7}
    assert run("es_client_acks_durable", history([command(1, moved)])).verdict == "failed"


def test_refusals_and_unrecorded_bodies_leave_the_ack_check_unknown() -> None:
    out = run("es_client_acks_durable", history([command(1, LOG[0], status=422)]))
    assert out.verdict == "unknown" and "record_bodies" in out.summary


def test_projection_reads_equal_to_a_prefix_of_the_stream_pass() -> None:
    reads = [read(1, "acct-0", 500, 1), read(2, "acct-0", 300, 2), read(3, "acct-1", 300, 1), read(4, "acct-0", 0, 3)]
    out = run("es_projection_reads_consistent", history(reads))
    assert out.verdict == "passed" and out.evidence["reads_judged"] == 4


def test_a_projection_read_counting_an_event_twice_fails_naming_it() -> None:
    out = run("es_projection_reads_consistent", history([read(4.5, "acct-0", 800, 2)]))
    assert out.verdict == "failed"
    assert "e.g. at t+4.5s acct-0 v2 read 800, the log folds to 300" in out.summary


def test_a_projection_read_ahead_of_the_log_fails() -> None:
    assert run("es_projection_reads_consistent", history([read(4.5, "acct-1", 300, 2)])).verdict == "failed"


def test_a_stream_that_never_goes_negative_passes() -> None:
    out = run("es_balances_never_negative", history([]))
    assert out.verdict == "passed" and out.evidence["withdrawals"] == 2


def test_an_overdrawn_stream_fails_naming_the_withdrawal() -> None:
    log = [*LOG, ev(5, "acct-0", 4, "withdrawn", 1)]
    out = run("es_balances_never_negative", history([], log))
    assert out.verdict == "failed"
    assert "violated in 1 streams, e.g. acct-0 reaches -1 at v4 (seq 5, cmd-5)" in out.summary


def test_the_fold_follows_versions_not_arrival_order() -> None:
    # Global order puts the withdrawal first, but the stream's versions say the deposit came first.
    log = [ev(1, "acct-0", 2, "withdrawn", 100), ev(2, "acct-0", 1, "deposited", 100)]
    assert run("es_balances_never_negative", history([], log)).verdict == "passed"


def test_without_withdrawals_overdrawing_is_unknown() -> None:
    out = run("es_balances_never_negative", history([], LOG[:2]))
    assert out.verdict == "unknown" and "overdrawing was never possible" in out.summary
