"""The CQRS experiments for real (PostgreSQL, Toxiproxy, Locust), sound and with each defect.

Each run takes about 45 s. The defects must fail the check for their own invariant, naming the
offending updates, from what clients were served (reads against the command side's log) as
well as from the audits, and nothing else a defect does not break.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from harness.infra.postgres import data_dir_for
from harness.journal import History, read_journal

pytestmark = pytest.mark.integration
EXPERIMENT = "experiments/cqrs.yaml"
WRITE_SIDE = "experiments/cqrs-write-side.yaml"
STATE_CHECKS = {"reads-consistent", "acked-writes-durable", "no-lost-updates", "no-duplicate-updates"}


def assert_nothing_left(out: Path) -> None:
    """Every process the run started is gone, PostgreSQL's server included, with its data."""
    history = read_journal(out / "journal.jsonl")
    pids = [r["pid"] for r in history.records if r["kind"] in ("service_started", "toxiproxy_started") and r.get("pid")]
    deadline = time.monotonic() + 10
    while (alive := [p for p in pids if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes still running after the run: {alive}"
    data = data_dir_for(str(out / "db"))
    assert not data.exists(), f"PostgreSQL data directory left behind: {data}"
    assert not subprocess.run(["pgrep", "-f", str(data)], capture_output=True, text=True).stdout.strip()


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def audit(history: History, service: str) -> dict[str, Any]:
    state = history.audits()[service]
    assert isinstance(state, dict) and "audit_error" not in state, state
    return state


def test_the_sound_system_passes_every_check_after_every_fault_took_effect(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    assert all(c["verdict"] == "passed" for c in run.result["checks"]), run.explain()
    outage = run.check("reads-catch-up-after-outage")["evidence"]["convergence"]
    assert outage["behind_at_anchor"] >= 20, "the outage should have held the read model back"
    hang = run.check("reads-catch-up-after-hang")["evidence"]["convergence"]
    assert hang["behind_at_anchor"] >= 20, "the hang should have held the read model back"
    assert run.check("reads-consistent")["evidence"]["reads_judged"] > 300
    history = read_journal(run.out / "journal.jsonl")
    # Each edge fault stalled the relay (its own counters die with it when it is killed).
    assert sum(e["type"] == "projection_stalled" for e in history.events) >= 3
    # The slow edge lost answers after the query side applied a batch: the redelivered events
    # were skipped, which is what makes the duplicate check meaningful here.
    assert audit(history, "query")["redeliveries_skipped"] > 0
    assert_nothing_left(run.out)


def test_no_record_reveals_which_defect_is_on(run_experiment) -> None:
    """Audits and events carry behaviour, never the defect switches: the checks must find the defect."""
    run = run_experiment(EXPERIMENT, "drop-on-error")
    history = read_journal(run.out / "journal.jsonl")
    text = " ".join(str(r) for r in history.records if r["kind"] in ("audit", "event")).lower()
    assert "drop" not in text and "idempotent" not in text
    # Lost from what clients were served: reads showing less than the log up to their position.
    consistent = run.check("reads-consistent")
    assert consistent["verdict"] == "failed" and "all show less than was written" in consistent["summary"]
    lost = run.check("no-lost-updates")
    assert "invariant 'no accepted update is lost' violated" in lost["summary"]
    assert "never reached the read model (positions " in lost["summary"]
    outage = history.faults()["event-edge-down"]
    assert outage.applied is not None and outage.removed is not None
    origin = history.load_start or 0.0
    first = lost["evidence"]["lost"][0]
    # The first update lost was accepted while the event edge was down.
    assert outage.applied - origin - 1 <= first["accepted_at_s"] <= outage.removed - origin + 1, first
    assert run.code == 1 and run.failed & STATE_CHECKS == {"reads-consistent", "no-lost-updates"}, run.explain()
    assert_nothing_left(run.out)


def test_a_non_idempotent_projection_applies_redelivered_updates_twice(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "non-idempotent-projection")
    assert run.code == 1, run.explain()
    assert run.failed & STATE_CHECKS == {"reads-consistent", "no-duplicate-updates"}, run.explain()
    assert "show more than was written" in run.check("reads-consistent")["summary"]
    dup = run.check("no-duplicate-updates")
    assert "invariant 'each update is applied at most once' violated" in dup["summary"]
    twice = dup["evidence"]["applied_more_than_once"]
    assert twice and all(r["times"] >= 2 and r["event_id"] and r["position"] for r in twice)
    assert_nothing_left(run.out)


def test_the_write_side_answers_within_its_timeout_and_keeps_reads_whole(run_experiment) -> None:
    run = run_experiment(WRITE_SIDE)
    assert run.code == 0, run.explain()
    assert run.check("writes-answered-within-timeout")["evidence"]["max_ms"] <= 3300
    assert_nothing_left(run.out)
