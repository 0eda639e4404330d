"""The event-sourcing checks (targets/event-sourcing/checks.py) on small hand-written journals:
each passes, fails and comes out unknown, called through the registry as a run calls them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import plugins
from harness.checks.registry import check_types
from harness.checks.windows import Windows
from harness.journal import History
from harness.system import load_system

ROOT = Path(__file__).resolve().parents[2]
plugins.load_for(load_system(ROOT / "targets" / "event-sourcing" / "system.yaml"))

T0 = 1_000_000.0


def event(seq: int, stream: str, version: int, command: str, type: str = "deposited", amount: int = 100) -> dict[str, Any]:
    return {"seq": seq, "stream_id": stream, "version": version, "event_id": f"e{seq}", "command_id": command,
            "type": type, "amount": amount}


def the_log() -> list[dict[str, Any]]:
    return [event(1, "acct-1", 1, "k1", amount=500), event(2, "acct-2", 1, "k2", amount=300),
            event(3, "acct-1", 2, "k3", "withdrawn", 200), event(4, "acct-2", 2, "k4", amount=50)]


def projection(log: list[dict[str, Any]]) -> dict[str, Any]:
    accounts: dict[str, dict[str, Any]] = {}
    for e in log:
        a = accounts.setdefault(e["stream_id"], {"stream_id": e["stream_id"], "balance": 0, "version": 0, "events": 0})
        a["balance"] += e["amount"] if e["type"] == "deposited" else -e["amount"]
        a["version"], a["events"] = e["version"], a["events"] + 1
    return {"checkpoint": log[-1]["seq"] if log else 0, "accounts": list(accounts.values())}


def ack(e: dict[str, Any], replayed: bool = False) -> dict[str, Any]:
    return {"kind": "event", "t": T0 + e["seq"], "service": "commands", "type": "event_acked", "stream": e["stream_id"],
            "event_id": e["event_id"], "seq": e["seq"], "version": e["version"], "command_id": e["command_id"],
            "replayed": replayed}


def history(log: list[dict[str, Any]] | None, acks: list[dict[str, Any]], answers: list[tuple[str, int | None]],
            proj: dict[str, Any] | None = None) -> History:
    """answers: (outcome, status) of each command request."""
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                                  {"kind": "load_started", "t": T0}, *acks]
    for i, (outcome, status) in enumerate(answers):
        recs.append({"kind": "request", "t": T0 + i, "name": "POST deposits", "method": "POST", "ms": 9.0,
                     "outcome": outcome, "status": status})
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    if log is not None:
        recs.append({"kind": "audit", "t": T0 + 31, "service": "commands", "state": {"events": log}})
    if proj is not None:
        recs.append({"kind": "audit", "t": T0 + 31, "service": "projector", "state": proj})
    return History(recs)


def sound() -> History:
    log = the_log()
    return history(log, [ack(e) for e in log], [("ok", 200)] * 4, projection(log))


def run(name: str, h: History, **params: Any):
    ctype = check_types.get(name)
    return ctype.run(h, ctype.Params(**params), Windows(h))


CHECKS = ["es_acked_events_durable", "es_no_duplicate_events", "es_replay_matches_projection"]


@pytest.mark.parametrize("name", CHECKS)
def test_each_check_passes_on_a_sound_history(name: str) -> None:
    out = run(name, sound())
    assert out.verdict == "passed", out.summary


@pytest.mark.parametrize("name", CHECKS)
def test_each_check_is_unknown_without_the_log(name: str) -> None:
    log = the_log()
    out = run(name, history(None, [ack(e) for e in log], [("ok", 200)] * 4, projection(log)))
    assert out.verdict == "unknown" and "no audit of 'commands'" in out.summary


@pytest.mark.parametrize("name", CHECKS)
def test_each_check_is_unknown_on_an_empty_log(name: str) -> None:
    out = run(name, history([], [], [], projection([])))
    assert out.verdict == "unknown" and "empty" in out.summary


def test_an_acked_event_missing_from_the_log_fails_naming_it() -> None:
    log = the_log()
    out = run("es_acked_events_durable", history(log[:3], [ack(e) for e in log], [("ok", 200)] * 4))
    assert out.verdict == "failed"
    assert "no acknowledged event is lost" in out.summary
    assert "event e4 (acct-2 v2, seq 4, k4)" in out.summary


def test_an_acked_event_found_at_another_version_counts_as_lost() -> None:
    log = the_log()
    moved = [*log[:3], {**log[3], "version": 3}]
    out = run("es_acked_events_durable", history(moved, [ack(e) for e in log], [("ok", 200)] * 4))
    assert out.verdict == "failed" and out.evidence["examples"][0]["in_log"]["version"] == 3


def test_indeterminate_commands_are_not_required_in_the_log() -> None:
    # Two commands timed out: their events are absent, and that is allowed.
    log = the_log()[:2]
    out = run("es_acked_events_durable", history(log, [ack(e) for e in log], [("ok", 200), ("ok", 200), ("info", None), ("info", None)]))
    assert out.verdict == "passed" and out.evidence["commands"]["indeterminate"] == 2


def test_without_any_ack_the_durability_check_cannot_judge() -> None:
    out = run("es_acked_events_durable", history(the_log(), [], [("ok", 200)] * 4))
    assert out.verdict == "unknown" and "no 'event_acked' events" in out.summary


def test_more_200_answers_than_acks_means_the_target_does_not_report_them_all() -> None:
    log = the_log()
    out = run("es_acked_events_durable", history(log, [ack(log[0])], [("ok", 200)] * 4))
    assert out.verdict == "unknown" and "4 commands were answered 200 but only 1 acks" in out.summary


def test_a_refused_withdrawal_needs_no_ack() -> None:
    log = the_log()
    out = run("es_acked_events_durable", history(log, [ack(e) for e in log], [("ok", 200)] * 4 + [("ok", 422)]))
    assert out.verdict == "passed"


def test_a_command_appended_twice_fails_naming_the_command_and_both_events() -> None:
    log = [*the_log(), event(5, "acct-2", 3, "k4", amount=50)]  # k4 again: a retry after a lost ack
    out = run("es_no_duplicate_events", history(log, [ack(e) for e in log], []))
    assert out.verdict == "failed"
    assert "no event is duplicated" in out.summary
    assert "k4 in acct-2: v2 seq 4 (e4), v3 seq 5 (e5)" in out.summary


def test_a_retry_answered_from_the_log_is_not_a_duplicate() -> None:
    log = the_log()
    h = history(log, [ack(e) for e in log] + [ack(log[3], replayed=True)], [("ok", 200)] * 4 + [("info", None)])
    out = run("es_no_duplicate_events", h)
    assert out.verdict == "passed" and out.evidence["idempotent_replays_acked"] == 1


def test_no_duplicates_without_any_retried_append_is_unknown_when_retries_are_required() -> None:
    out = run("es_no_duplicate_events", sound(), min_idempotent_replays=1)
    assert out.verdict == "unknown" and "idempotency was never put to the test" in out.summary


def test_a_stream_with_a_version_gap_fails() -> None:
    log = [event(1, "acct-1", 1, "k1"), event(2, "acct-1", 3, "k2")]
    out = run("es_no_duplicate_events", history(log, [], []))
    assert out.verdict == "failed" and "versions are not 1..n, e.g. acct-1" in out.summary


def test_a_projection_that_applied_events_twice_fails_naming_the_account() -> None:
    log = the_log()
    proj = projection(log + log[:1])  # acct-1's first event applied again after a restart
    out = run("es_replay_matches_projection", history(log, [], [], {**proj, "checkpoint": 4}))
    assert out.verdict == "failed"
    assert "replaying the log gives the live projection" in out.summary
    assert "acct-1: replay {'balance': 300, 'version': 2, 'events': 2} vs projection {'balance': 800" in out.summary


def test_a_projection_behind_the_log_fails_with_the_gap() -> None:
    log = the_log()
    out = run("es_replay_matches_projection", history(log, [], [], projection(log[:3])))
    assert out.verdict == "failed" and "checkpoint is seq 3 but the log ends at seq 4 (1 events never projected)" in out.summary


def test_replay_is_unknown_without_the_projectors_audit() -> None:
    out = run("es_replay_matches_projection", history(the_log(), [], []))
    assert out.verdict == "unknown" and "no audit of 'projector'" in out.summary
