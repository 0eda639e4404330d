"""The CQRS checks on small hand-written histories: each passes, fails and comes out unknown.

The checks are loaded the way the harness loads them, through the manifest's ``plugins:``.
"""
from __future__ import annotations

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
E = [f"e{n}" for n in range(10)]  # event ids; E[n] has position n


@pytest.fixture(scope="module", autouse=True)
def cqrs_plugin() -> None:
    plugins.load_for(load_system(ROOT / "targets" / "cqrs" / "system.yaml"))


def run(check: str, h: History, **params: Any) -> Outcome:
    ctype = check_types.get(check)
    return ctype.run(h, ctype.Params.model_validate(params), Windows(h))


def history(accepted: list[int] | None = (1, 2, 3), applied: list[int] | None = (1, 2, 3),
            acks: list[tuple[float, int]] | None = None, writes: list[str] = (),
            projections: list[tuple[float, list[list[int]]]] = (), fault: tuple[float, float | None] | None = (5.0, 10.0),
            balances: tuple[dict[str, int], dict[str, int]] | None = None, extra_audits: dict[str, Any] | None = None) -> History:
    """accepted/applied: positions (None = no audit of that service); acks: (offset, position)
    ``update_accepted`` events (default: one per accepted, at its position in seconds);
    writes: outcomes of client write requests; projections: (offset, ranges) ``projection_applied``."""
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                                  {"kind": "load_started", "t": T0}]
    for i, outcome in enumerate(writes):
        recs.append({"kind": "request", "t": T0 + i * 0.1, "name": "POST /deposits", "method": "POST", "ms": 5.0,
                     "outcome": outcome})
    for off, pos in (acks if acks is not None else [(float(p), p) for p in (accepted or [])]):
        recs.append({"kind": "event", "t": T0 + off, "service": "command", "type": "update_accepted",
                     "event_id": E[pos], "position": pos})
    for off, ranges in projections:
        recs.append({"kind": "event", "t": T0 + off, "service": "query", "type": "projection_applied", "positions": ranges})
    if fault is not None:
        recs.append({"kind": "fault_applied", "t": T0 + fault[0], "fault": "edge-down", "type": "down", "target": "p->q"})
        if fault[1] is not None:
            recs.append({"kind": "fault_removed", "t": T0 + fault[1], "fault": "edge-down"})
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    write_bal, read_bal = balances or ({"a": 10 * len(accepted or [])}, {"a": 10 * len(applied or [])})
    if accepted is not None:
        recs.append({"kind": "audit", "t": T0 + 31, "service": "command", "state": {
            "events": [[p, E[p], "a", 10] for p in accepted], "balances": write_bal}})
    if applied is not None:
        recs.append({"kind": "audit", "t": T0 + 31, "service": "query", "state": {
            "applied": [[p, E[p]] for p in applied], "accounts": {k: {"balance": v} for k, v in read_bal.items()}}})
    for service, state in (extra_audits or {}).items():
        recs.append({"kind": "audit", "t": T0 + 31, "service": service, "state": state})
    return History(recs)


# -- cqrs_no_lost_updates ------------------------------------------------------------------

def test_no_lost_updates_passes_when_every_accepted_update_is_applied() -> None:
    out = run("cqrs_no_lost_updates", history())
    assert out.verdict == "passed" and out.summary == "all 3 accepted updates are in the read model"


def test_an_accepted_update_missing_from_the_read_model_is_lost_and_named() -> None:
    out = run("cqrs_no_lost_updates", history(accepted=[1, 2, 3, 4, 5], applied=[1, 2, 5]))
    assert out.verdict == "failed"
    assert "invariant 'no accepted update is lost' violated: 2 of 5 accepted updates never reached the read model " \
           "(positions 3-4; first event e3)" in out.summary
    assert [r["event_id"] for r in out.evidence["lost"]] == ["e3", "e4"]
    assert out.evidence["lost"][0]["accepted_at_s"] == 3.0
    assert "1 accounts read lower than the write side's balance" in out.summary


def test_an_acknowledged_update_missing_from_the_command_log_is_lost() -> None:
    out = run("cqrs_no_lost_updates", history(accepted=[1, 2], applied=[1, 2], acks=[(1.0, 1), (2.0, 2), (3.0, 3)]))
    assert out.verdict == "failed"
    assert "1 acknowledged updates are missing from the command side's own log" in out.summary
    assert out.evidence["acknowledged_not_in_log"] == [{"event_id": "e3", "position": 3}]


def test_more_ok_answers_than_accepted_updates_means_an_acknowledged_write_was_lost() -> None:
    out = run("cqrs_no_lost_updates", history(accepted=[1, 2], applied=[1, 2], writes=["ok", "ok", "ok"]),
              writes={"name": "POST /deposits"})
    assert out.verdict == "failed"
    assert "clients got 3 successful write answers but the command side holds only 2 updates" in out.summary


@pytest.mark.parametrize("accepted", [[1, 2], [1, 2, 3]], ids=["not-committed", "committed"])
def test_a_timed_out_write_is_indeterminate_either_way(accepted: list[int]) -> None:
    # Two writes answered ok, one timed out: whether the third was committed or not, nothing is wrong.
    out = run("cqrs_no_lost_updates", history(accepted=accepted, applied=accepted, writes=["ok", "ok", "info"]),
              writes={"name": "POST /deposits"})
    assert out.verdict == "passed"
    assert "1 writes timed out (indeterminate, not required)" in out.summary
    assert out.evidence["client_writes"] == {"ok": 2, "failed": 0, "indeterminate": 1}


def test_a_committed_update_whose_write_timed_out_must_still_reach_the_read_model() -> None:
    out = run("cqrs_no_lost_updates", history(accepted=[1, 2, 3], applied=[1, 2], writes=["ok", "ok", "info"]),
              writes={"name": "POST /deposits"})
    assert out.verdict == "failed" and "(positions 3; first event e3)" in out.summary


def test_no_lost_updates_is_unknown_without_audits_or_updates() -> None:
    assert run("cqrs_no_lost_updates", history(accepted=None)).summary.startswith("no audit of service 'command'")
    broken = history(applied=None, extra_audits={"query": {"audit_error": "ConnectError: refused"}})
    out = run("cqrs_no_lost_updates", broken)
    assert out.verdict == "unknown" and out.summary == "the audit of 'query' failed: ConnectError: refused"
    out = run("cqrs_no_lost_updates", history(accepted=[], applied=[]))
    assert out.verdict == "unknown" and "accepted no update" in out.summary


# -- cqrs_no_duplicate_updates -------------------------------------------------------------

def test_no_duplicates_passes_when_each_update_is_applied_once() -> None:
    out = run("cqrs_no_duplicate_updates", history())
    assert out.verdict == "passed" and out.summary == "3 updates applied, each exactly once"


def test_an_update_applied_twice_is_named_with_its_count() -> None:
    out = run("cqrs_no_duplicate_updates", history(applied=[1, 2, 2, 3, 3, 3]))
    assert out.verdict == "failed"
    assert "invariant 'each update is applied at most once' violated: 2 updates applied more than once " \
           "(3 extra applications; positions 2-3; first event e2)" in out.summary
    assert out.evidence["applied_more_than_once"][1] == {"event_id": "e3", "position": 3, "account": "a",
                                                         "amount": 10, "times": 3}


def test_an_applied_update_the_command_side_never_accepted_fails() -> None:
    out = run("cqrs_no_duplicate_updates", history(accepted=[1, 2], applied=[1, 2, 7], balances=({"a": 20}, {"a": 20})))
    assert out.verdict == "failed" and "1 applied updates were never accepted by the command side" in out.summary
    assert out.evidence["never_accepted"] == ["e7"]


def test_a_read_balance_above_the_write_side_fails_even_with_a_clean_log() -> None:
    out = run("cqrs_no_duplicate_updates", history(balances=({"a": 30}, {"a": 40})))
    assert out.verdict == "failed" and "1 accounts read higher than the write side's balance" in out.summary


def test_no_duplicates_is_unknown_when_nothing_was_applied() -> None:
    out = run("cqrs_no_duplicate_updates", history(applied=[]))
    assert out.verdict == "unknown" and "applied no update" in out.summary


# -- cqrs_convergence ------------------------------------------------------------------------

CONVERGE = {"after": {"fault": "edge-down", "edge": "end"}, "within": "3s"}


def test_convergence_passes_when_the_backlog_is_applied_within_the_bound() -> None:
    # Positions 1..5 accepted at t=1..5 s; 1-2 applied before the fault, 3-5 only 1.5 s after it ends (t=10).
    h = history(accepted=[1, 2, 3, 4, 5], applied=[1, 2, 3, 4, 5], projections=[(2.1, [[1, 2]]), (11.5, [[3, 5]])])
    out = run("cqrs_convergence", h, **CONVERGE)
    assert out.verdict == "passed"
    assert out.summary == "read model held all 5 earlier updates 1.50s after edge-down end (was 3 behind; bound 3s)"


def test_convergence_fails_when_the_read_model_catches_up_too_late() -> None:
    h = history(accepted=[1, 2, 3], projections=[(1.1, [[1, 1]]), (12.0, [[2, 2]]), (14.5, [[3, 3]])])
    out = run("cqrs_convergence", h, **CONVERGE)
    assert out.verdict == "failed" and out.evidence["delay_s"] == 4.5 and "4.50s after edge-down end" in out.summary


def test_convergence_fails_and_names_the_positions_that_never_arrive() -> None:
    h = history(accepted=[1, 2, 3, 4, 5, 6], projections=[(1.1, [[1, 1]]), (11.0, [[2, 2], [5, 6]])])
    out = run("cqrs_convergence", h, **CONVERGE)
    assert out.verdict == "failed"
    assert out.summary == ("invariant 'the read model converges' violated: 2 of 6 updates accepted before edge-down end "
                           "were never applied (positions 3-4)")


def test_convergence_is_unknown_when_the_fault_never_held_the_projection_back() -> None:
    h = history(accepted=[1, 2], projections=[(1.1, [[1, 1]]), (2.1, [[2, 2]])])
    out = run("cqrs_convergence", h, **CONVERGE)
    assert out.verdict == "unknown" and "was not behind when edge-down ended" in out.summary


def test_convergence_is_unknown_when_the_fault_never_ended_or_nothing_was_accepted() -> None:
    out = run("cqrs_convergence", history(fault=(5.0, None)), **CONVERGE)
    assert out.verdict == "unknown" and out.summary == "fault 'edge-down' never ended"
    out = run("cqrs_convergence", history(fault=None), **CONVERGE)
    assert out.verdict == "unknown"
    out = run("cqrs_convergence", history(accepted=[], applied=[]), **CONVERGE)
    assert out.verdict == "unknown" and out.summary == "no update was accepted before edge-down end"
