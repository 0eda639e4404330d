"""The shared effect checks (targets/_shared/effect_checks.py) on small hand-written histories.

Each check passes on a sound history, fails on a defective one saying why, and is unknown when
it has nothing to judge. Loaded the way the harness loads them: through a manifest's ``plugins:``.
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


@pytest.fixture(scope="module", autouse=True)
def effect_plugin() -> None:
    plugins.load_for(load_system(ROOT / "targets" / "circuit-breaker" / "system.yaml"))


def run(check: str, h: History, **params: Any) -> Outcome:
    ctype = check_types.get(check)
    return ctype.run(h, ctype.Params.model_validate(params), Windows(h))


def request(at: float, name: str = "POST /orders", status: int | None = 200, body: Any = None,
            error: str | None = None, outcome: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": "request", "t": T0 + at, "name": name, "method": name.split()[0], "ms": 5.0,
                           "status": status, "error": error,
                           "outcome": outcome or ("ok" if error is None and status is not None else "fail")}
    if body is not None:
        rec["body"] = body if isinstance(body, str) else json.dumps(body)
    return rec


def history(requests: list[dict[str, Any]] = (), audits: dict[str, Any] | None = None,
            fault: tuple[float, float] | None = (10.0, 20.0)) -> History:
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                                  {"kind": "load_started", "t": T0}, *requests]
    if fault:
        recs += [{"kind": "fault_applied", "t": T0 + fault[0], "fault": "slow", "type": "latency", "target": "a->b"},
                 {"kind": "fault_removed", "t": T0 + fault[1], "fault": "slow"}]
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    for service, state in (audits or {}).items():
        recs.append({"kind": "audit", "t": T0 + 31, "service": service, "state": state})
    return History(recs)


# --- answer_problems -----------------------------------------------------------------------

def test_answer_problems_passes_when_the_client_found_nothing_wrong() -> None:
    h = history([request(i) for i in range(12)] + [request(12.5, status=503, error="HTTP 503")])
    out = run("answer_problems", h, window="all")
    assert out.verdict == "passed" and out.evidence["wrong"] == 0, out.summary


def test_answer_problems_fails_on_a_wrong_answer_quoting_it() -> None:
    bad = request(5.0, error="wrong answer: o7 was paid, now it is pending")
    h = history([request(i) for i in range(12)] + [bad])
    out = run("answer_problems", h, window="all")
    assert out.verdict == "failed"
    assert out.summary == "1 of 13 answers in 'all' were wrong (max 0); first at 5.0s: wrong answer: o7 was paid, now it is pending"
    assert out.evidence["kinds"] == {"wrong answer: o7 was paid, now it is pending": 1}


def test_answer_problems_matches_a_reason_as_the_load_process_records_it() -> None:
    # harness.load.locust_process.describe: "<exception type>: <reason>", e.g. from catch_response.
    bad = request(5.0, error="CatchResponseError: wrong answer: acknowledged order o52 is not readable (404)")
    other = request(6.0, error="CatchResponseError: HTTP 503")
    out = run("answer_problems", history([request(i) for i in range(12)] + [bad, other]), window="all")
    assert out.verdict == "failed" and out.evidence["wrong"] == 1, out.summary


def test_answer_problems_is_unknown_without_enough_requests() -> None:
    assert run("answer_problems", history([request(1)]), window="all").verdict == "unknown"


# --- ledger_calls --------------------------------------------------------------------------

def calls(*ats: float, path: str = "/charge") -> list[list[Any]]:
    return [[T0 + at, "POST", path] for at in ats]


def test_ledger_calls_counts_only_the_window_and_the_path() -> None:
    ledger = {"calls": calls(1, 2, 11, 12, 25) + calls(13, 14, path="/health")}
    out = run("ledger_calls", history(audits={"payments": ledger}), service="payments", path_regex="^/charge$",
              window={"during": "slow"}, max=2)
    assert out.verdict == "passed" and out.evidence["calls"] == 2, out.summary
    assert out.evidence["per_second"][:3] == [0, 1, 1]


def test_ledger_calls_fails_above_max_and_below_min() -> None:
    ledger = {"calls": calls(*[10 + i * 0.1 for i in range(50)])}
    h = history(audits={"payments": ledger})
    out = run("ledger_calls", h, service="payments", window={"during": "slow"}, max=8)
    assert out.verdict == "failed" and out.summary == "50 calls reached payments in 'during slow' (max 8)"
    out = run("ledger_calls", h, service="payments", window={"after": "slow"}, min=1)
    assert out.verdict == "failed" and out.summary == "only 0 calls reached payments in 'after slow' (min 1)"


def test_ledger_calls_per_client_request() -> None:
    reqs = [request(10 + i, name="GET /x") for i in range(10)]
    ledger = {"calls": calls(*[10 + i * 0.3 for i in range(30)])}
    h = history(reqs, audits={"up": ledger})
    out = run("ledger_calls", h, service="up", window={"during": "slow"},
              per_request={"requests": {"name": "GET /x"}, "max": 2})
    assert out.verdict == "failed" and "3.00 per request (max 2)" in out.summary
    assert out.evidence["calls_per_request"] == 3.0
    # A share that must reach the participant (a replica in rotation gets its part of the load).
    out = run("ledger_calls", h, service="up", window={"during": "slow"},
              per_request={"requests": {"name": "GET /x"}, "min": 4})
    assert out.verdict == "failed" and "3.00 per request (min 4)" in out.summary


def test_ledger_calls_per_path_counts_the_tries_of_one_request() -> None:
    ledger = {"calls": [[T0 + 10 + i * 0.1, "GET", f"/items/{i // 4}"] for i in range(20)]  # 4 tries each
              + [[T0 + 9.9, "GET", "/items/99"]] * 3}  # before the window: not counted
    h = history(audits={"up": ledger})
    out = run("ledger_calls", h, service="up", window={"during": "slow"}, max_per_path=4)
    assert out.verdict == "passed" and out.evidence["most_calls_on_one_path"] == 4, out.summary
    ledger["calls"].append([T0 + 15, "GET", "/items/2"])
    out = run("ledger_calls", history(audits={"up": ledger}), service="up", window={"during": "slow"}, max_per_path=4)
    assert out.verdict == "failed"
    assert out.summary == "1 of 5 paths got more than 4 calls at up in 'during slow' (most: 5 on /items/2)"


def test_ledger_calls_is_unknown_without_an_audit_and_says_why() -> None:
    out = run("ledger_calls", history(), service="payments", window={"during": "slow"}, max=1)
    assert out.verdict == "unknown" and "no audit of service 'payments'" in out.summary
    h = history(audits={"payments": {"audit_error": "ConnectError: refused"}})
    out = run("ledger_calls", h, service="payments", window={"during": "slow"}, max=1)
    assert out.verdict == "unknown" and out.summary == "the audit of 'payments' failed: ConnectError: refused"


def test_ledger_calls_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="give a bound"):
        check_types.get("ledger_calls").Params.model_validate({"service": "p", "window": "all"})


# --- acknowledged_effects ------------------------------------------------------------------

ACKS = {"requests": {"name": "POST /orders"}, "statuses": [200], "id": "/order_id", "fields": {"amount": "/amount"}}
LEDGER = {"service": "payments", "list": "charges", "id": "order_id", "fields": {"amount": "amount"}}


def order(i: int, amount: float = 10.5, status: str = "paid") -> dict[str, Any]:
    return {"order_id": f"o{i}", "amount": amount, "status": status}


def charge(i: int, amount: float = 10.5) -> dict[str, Any]:
    return {"order_id": f"o{i}", "amount": amount, "charge_id": f"c{i}"}


def effects(reqs: list[dict[str, Any]], charges: list[dict[str, Any]], **params: Any) -> Outcome:
    h = history(reqs, audits={"payments": {"charges": charges}})
    return run("acknowledged_effects", h, acks=ACKS, ledger=LEDGER, **params)


def test_every_acknowledged_write_once_passes() -> None:
    reqs = [request(i, body=order(i)) for i in range(5)] + [request(6, status=None, error="timed out", outcome="info")]
    out = effects(reqs, [charge(i) for i in range(5)] + [charge(99)])  # the timed-out one may have been charged
    assert out.verdict == "passed", out.summary
    assert out.evidence["unexplained_count"] == 1 and out.evidence["not_acknowledged"] == 1


def test_a_write_charged_twice_fails() -> None:
    out = effects([request(i, body=order(i)) for i in range(3)], [charge(0), charge(1), charge(1), charge(2)])
    assert out.verdict == "failed"
    assert "1 writes took effect more than once at payments (1 extra; first o1)" in out.summary


def test_an_acknowledged_write_without_effect_fails() -> None:
    out = effects([request(i, body=order(i, status="pending")) for i in range(3)], [charge(0)])
    assert out.verdict == "failed" and "2 of 3 acknowledged writes have no effect at payments (first o1)" in out.summary
    assert [x["id"] for x in out.evidence["lost"]] == ["o1", "o2"]


def test_an_effect_with_another_amount_fails() -> None:
    out = effects([request(0, body=order(0, amount=10.99))], [charge(0, amount=10.0)])
    assert out.verdict == "failed"
    assert "1 effects differ from what was acknowledged (first o0: amount acknowledged 10.99, applied [10.0])" in out.summary


def test_effects_nobody_asked_for_fail_beyond_the_unacknowledged_attempts() -> None:
    reqs = [request(i, body=order(i)) for i in range(3)]
    out = effects(reqs, [charge(i) for i in range(3)] + [{"order_id": f"retry-{n}", "amount": 10.5} for n in range(4)])
    assert out.verdict == "failed"
    assert "4 effects at payments match no acknowledged write, but only 0 attempts went unacknowledged" in out.summary
    out = effects(reqs, [charge(i) for i in range(3)] + [{"order_id": f"retry-{n}", "amount": 10.5} for n in range(4)],
                  unexplained_slack=4)
    assert out.verdict == "passed"


def test_acknowledged_effects_is_unknown_without_acks_or_bodies() -> None:
    assert effects([request(0, status=503, error="HTTP 503")], []).verdict == "unknown"
    out = effects([{**request(0), "body_truncated": True, "body": "{"}], [charge(0)])
    assert out.verdict == "unknown" and "could not be read" in out.summary


def test_acknowledged_effects_read_a_manifest_audit_taken_after_quiescence() -> None:
    reqs = [request(i, body=order(i)) for i in range(3)]
    recs = [{"kind": "quiescence", "t": T0 + 40, "settled": True, "waited_s": 3.5},
            {"kind": "invariant_audit", "t": T0 + 40, "audit": "charges", "source": "http", "service": "payments",
             "value": [charge(0), charge(1), charge(1), charge(2)]}]
    h = History([*history(reqs).records, *recs], requests=history(reqs).requests)
    ledger = {"audit": "charges", "id": "order_id", "fields": {"amount": "amount"}}
    out = run("acknowledged_effects", h, acks=ACKS, ledger=ledger)
    assert out.verdict == "failed" and "1 writes took effect more than once at audit 'charges'" in out.summary
    assert out.evidence["quiescence"] == {"settled": True, "waited_s": 3.5}
    unread = history(reqs)
    out = run("acknowledged_effects", unread, acks=ACKS, ledger=ledger)
    assert out.verdict == "unknown" and "audit 'charges' was not read in this run" in out.summary


def test_acknowledged_effects_needs_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one of 'audit'"):
        check_types.get("acknowledged_effects").Params.model_validate(
            {"acks": ACKS, "ledger": {**LEDGER, "audit": "charges"}})


def test_acknowledged_effects_fields_must_match() -> None:
    with pytest.raises(ValueError, match="must name the same values"):
        check_types.get("acknowledged_effects").Params.model_validate(
            {"acks": ACKS, "ledger": {**LEDGER, "fields": {}}})


# --- event_gap -----------------------------------------------------------------------------

def breaker(*transitions: tuple[float, str]) -> History:
    events = [{"kind": "event", "t": T0 + at, "service": "orders", "type": "breaker_state", "state": state}
              for at, state in transitions]
    return History([*history().records, *events])


GAP = {"first": {"type": "breaker_state", "state": "open"}, "then": {"type": "breaker_state", "state": "half_open"},
       "after": {"fault": "slow", "edge": "start"}, "min": 1.9, "max": 2.25}


def test_event_gap_passes_at_the_configured_reset_timeout() -> None:
    out = run("event_gap", breaker((10.5, "open"), (12.51, "half_open"), (12.6, "open")), **GAP)
    assert out.verdict == "passed" and out.evidence["gap_s"] == 2.01, out.summary


def test_event_gap_fails_when_the_timer_was_restarted() -> None:
    # Stale failures of calls in flight re-opened the open breaker: half-open comes late.
    out = run("event_gap", breaker((10.5, "open"), (10.9, "open"), (12.9, "half_open")), **GAP)
    assert out.verdict == "failed"
    assert out.summary.startswith("{'type': 'breaker_state', 'state': 'half_open'} came 2.400s after")
    assert [e["state"] for e in out.evidence["between"]] == ["open", "open", "half_open"]


def test_event_gap_fails_early_and_without_the_second_event() -> None:
    assert run("event_gap", breaker((10.5, "open"), (10.6, "half_open")), **GAP).verdict == "failed"
    out = run("event_gap", breaker((10.5, "open")), **GAP)
    assert out.verdict == "failed" and "no {'type': 'breaker_state', 'state': 'half_open'} event" in out.summary


def test_event_gap_is_unknown_without_the_first_event() -> None:
    assert run("event_gap", breaker((5.0, "open"), (7.0, "half_open")), **GAP).verdict == "unknown"


# --- event_count ---------------------------------------------------------------------------

REOPEN = {"event": {"type": "breaker_state", "previous": "open", "state": "open"}, "window": "all", "max": 0}


def transitions(*moves: tuple[float, str, str]) -> History:
    events = [{"kind": "event", "t": T0 + at, "service": "orders", "type": "breaker_state", "previous": a, "state": b}
              for at, a, b in moves]
    return History([*history().records, *events])


def test_event_count_passes_when_the_state_machine_never_makes_the_move() -> None:
    h = transitions((10.5, "closed", "open"), (12.5, "open", "half_open"), (12.6, "half_open", "closed"))
    out = run("event_count", h, **REOPEN)
    assert out.verdict == "passed" and out.evidence["count"] == 0, out.summary


def test_event_count_fails_on_an_open_breaker_opening_again() -> None:
    h = transitions((10.5, "closed", "open"), (10.7, "open", "open"), (12.7, "open", "half_open"))
    out = run("event_count", h, **REOPEN)
    assert out.verdict == "failed" and out.summary.endswith("(max 0); first at 10.70s")
