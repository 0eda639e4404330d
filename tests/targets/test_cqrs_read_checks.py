"""The CQRS client-side checks (targets/cqrs/read_checks.py) on hand-written histories.

The command side's log is the authority; the clients' recorded answers are what was served.
Each test breaks one thing the way a defect would and asserts the verdict and its words.
"""
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
# position -> (account, amount); each written at T0 + position seconds
LOG = {1: ("a", 10), 2: ("b", 5), 3: ("a", 7), 4: ("a", 1), 5: ("b", 2)}


@pytest.fixture(scope="module", autouse=True)
def cqrs_plugin() -> None:
    plugins.load_for(load_system(ROOT / "targets" / "cqrs" / "system.yaml"))


def run(check: str, h: History, **params: Any) -> Outcome:
    ctype = check_types.get(check)
    return ctype.run(h, ctype.Params.model_validate(params), Windows(h))


def read(t: float, account: str, balance: int, updates: int, as_of: int) -> dict[str, Any]:
    body = {"account": account, "balance": balance, "updates": updates, "as_of_position": as_of}
    return {"kind": "request", "t": T0 + t, "name": "GET /accounts/[id]", "method": "GET", "ms": 3.0, "outcome": "ok",
            "status": 200, "body": json.dumps(body)}


def write(t: float, position: int, event_id: str | None = None) -> dict[str, Any]:
    body = {"event_id": event_id or f"e{position}", "position": position, "balance": 0}
    return {"kind": "request", "t": T0 + t, "name": "POST /accounts/[id]/deposits", "method": "POST", "ms": 3.0,
            "outcome": "ok", "status": 200, "body": json.dumps(body)}


def history(requests: list[dict[str, Any]], *, log: dict[int, tuple[str, int]] = LOG, unpublished: int = 0,
            received: int | None = None, fault: tuple[float, float] | None = None) -> History:
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                                  {"kind": "load_started", "t": T0}, *requests]
    if fault:
        recs += [{"kind": "fault_applied", "t": T0 + fault[0], "fault": "edge-down", "type": "down", "target": "p->q"},
                 {"kind": "fault_removed", "t": T0 + fault[1], "fault": "edge-down"}]
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    recs.append({"kind": "audit", "t": T0 + 31, "service": "command", "state": {
        "events": [[p, f"e{p}", a, amt, T0 + p] for p, (a, amt) in sorted(log.items())], "unpublished": unpublished}})
    recs.append({"kind": "audit", "t": T0 + 31, "service": "query", "state": {
        "received": {"events": len(log) if received is None else received, "batches": 3}}})
    return History(recs)


CONSISTENT_READS = [read(1.5, "a", 10, 1, 1), read(3.5, "a", 17, 2, 3), read(3.6, "b", 5, 1, 3), read(9, "b", 7, 2, 5)]


def test_reads_that_equal_the_log_up_to_their_position_pass() -> None:
    out = run("cqrs_reads_consistent", history(CONSISTENT_READS))
    assert out.verdict == "passed" and out.evidence["reads_judged"] == 4


def test_a_stale_read_is_fine_when_it_equals_an_older_prefix() -> None:
    out = run("cqrs_reads_consistent", history([read(9, "a", 10, 1, 2)]))  # as of 2, long after 4 was written
    assert out.verdict == "passed", out.summary


def test_a_read_missing_an_update_below_its_position_fails_naming_it() -> None:
    out = run("cqrs_reads_consistent", history([read(4.5, "a", 11, 2, 4)]))  # position 3 (7) dropped
    assert out.verdict == "failed"
    assert "violated by 1 of 1 reads (all show less than was written)" in out.summary
    assert "a as of position 4 read {'balance': 11, 'updates': 2}, the log says {'balance': 18, 'updates': 3}" in out.summary


def test_a_read_showing_an_update_twice_fails_saying_more_than_written() -> None:
    out = run("cqrs_reads_consistent", history([read(3.5, "a", 27, 3, 3)]))
    assert out.verdict == "failed" and "1 show more than was written" in out.summary


def test_a_read_as_of_a_position_beyond_the_log_fails() -> None:
    out = run("cqrs_reads_consistent", history([read(9, "a", 18, 3, 6)]))
    assert out.verdict == "failed" and out.evidence["examples"][0]["beyond_log_head"] is True


def test_reads_without_recorded_bodies_are_unknown() -> None:
    r = read(1.5, "a", 10, 1, 1)
    del r["body"]
    out = run("cqrs_reads_consistent", history([r]))
    assert out.verdict == "unknown" and "record_bodies" in out.summary


def test_a_log_without_write_times_makes_the_checks_unknown() -> None:
    h = history(CONSISTENT_READS)
    for rec in h.of_kind("audit"):
        if rec["service"] == "command":
            rec["state"]["events"] = [e[:4] for e in rec["state"]["events"]]
    out = run("cqrs_reads_consistent", h)
    assert out.verdict == "unknown" and "no created_at" in out.summary


def test_every_acknowledged_write_in_the_log_passes() -> None:
    out = run("cqrs_acked_writes_durable", history([write(1, 1), write(2, 2)]))
    assert out.verdict == "passed" and out.evidence["acknowledged"] == 2


def test_a_write_answered_200_but_missing_from_the_log_fails_naming_it() -> None:
    out = run("cqrs_acked_writes_durable", history([write(1, 1), write(6, 6, "e-lost")]))
    assert out.verdict == "failed"
    assert "1 of 2 writes answered 2xx are not in the command side's log where they were told" in out.summary
    assert "event e-lost (HTTP 200, position 6, t+6.0s)" in out.summary


def test_a_write_answered_accepted_is_a_promise_even_when_the_client_counted_it_failed() -> None:
    accepted = {"kind": "request", "t": T0 + 7, "name": "POST /accounts/[id]/deposits", "method": "POST", "ms": 3000.0,
                "outcome": "fail", "status": 202, "body": json.dumps({"event_id": "e-promised", "status": "accepted"})}
    out = run("cqrs_acked_writes_durable", history([write(1, 1), accepted]))
    assert out.verdict == "failed" and "event e-promised (HTTP 202, position None" in out.summary
    logged = {**accepted, "body": json.dumps({"event_id": "e3", "status": "accepted"})}
    assert run("cqrs_acked_writes_durable", history([write(1, 1), logged])).verdict == "passed"


def test_staleness_is_how_old_the_first_write_a_read_missed_was() -> None:
    # Window 'all': a read at t=4.5 as of 3 missed position 4, written at t=4 -> 0.5 s stale.
    reads = [read(4.5, "a", 17, 2, 3)] + [read(1.5 + i * 0.01, "a", 10, 1, 1) for i in range(20)]
    out = run("cqrs_read_staleness", history(reads), window="all", percentile=100, max="400ms")
    assert out.verdict == "failed" and "p100 staleness 0.50s in 'all' (max 0.4s)" in out.summary
    ok = run("cqrs_read_staleness", history(reads), window="all", percentile=100, max="600ms")
    assert ok.verdict == "passed", ok.summary


def test_reads_must_catch_up_within_the_bound_after_the_fault_ends() -> None:
    # The edge comes back at t=4.2: writes 1-4 began before; the read model was at 1.
    reads = [read(4.0, "a", 10, 1, 1), read(4.5, "a", 10, 1, 1), read(6.0, "a", 18, 3, 4)]
    out = run("cqrs_read_staleness", history(reads, fault=(2.0, 4.2)), converge_after={"fault": "edge-down", "edge": "end"},
              within="1s")
    assert out.verdict == "failed"
    assert "reads showed every write from before edge-down end only 1.80s after it (bound 1s)" in out.summary
    assert out.evidence["convergence"]["behind_at_anchor"] == 3
    ok = run("cqrs_read_staleness", history(reads, fault=(2.0, 4.2)), converge_after={"fault": "edge-down", "edge": "end"},
             within="2s")
    assert ok.verdict == "passed", ok.summary


def test_catching_up_is_unknown_when_reads_were_never_behind() -> None:
    reads = [read(4.1, "a", 18, 3, 4), read(6.0, "a", 18, 3, 4)]
    out = run("cqrs_read_staleness", history(reads, fault=(2.0, 4.2)), converge_after={"fault": "edge-down", "edge": "end"},
              within="1s")
    assert out.verdict == "unknown" and "never held the read model back" in out.summary


def test_reads_that_never_catch_up_fail() -> None:
    reads = [read(4.0, "a", 10, 1, 1), read(9.0, "a", 10, 1, 1)]
    out = run("cqrs_read_staleness", history(reads, fault=(2.0, 4.2)), converge_after={"fault": "edge-down", "edge": "end"},
              within="1s")
    assert out.verdict == "failed" and "no read after edge-down end ever showed position 4" in out.summary


def test_relay_load_within_the_ratio_with_nothing_unpublished_passes() -> None:
    out = run("cqrs_relay_load", history([], received=6), max_ratio=1.5)
    assert out.verdict == "passed" and out.evidence["ratio"] == 1.2


def test_a_relay_that_redelivers_everything_breaks_the_load_bound() -> None:
    out = run("cqrs_relay_load", history([], received=50), max_ratio=1.5)
    assert out.verdict == "failed" and "50 deliveries reached the query side for 5 accepted updates (x10.00, max x1.5)" \
        in out.summary


def test_updates_left_unpublished_after_quiescence_fail() -> None:
    out = run("cqrs_relay_load", history([], unpublished=2), max_ratio=1.5)
    assert out.verdict == "failed" and "2 accepted updates are still unpublished" in out.summary
