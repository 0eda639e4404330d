"""Invariants audited from effects, for real: the saga system's databases read after quiescence.

The audits read the participants' and the orchestrator's own databases directly (not through a
faulted edge, not through any service's self-report). The sound system keeps every invariant
through a payments-database outage; with compensation skipped, charges of compensated sagas
remain, and the invariant that says so fails, naming them.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from derived_system import ROOT, derive_system

pytestmark = pytest.mark.integration

AUDITS = {
    "charges": {"sql": {"service": "postgres", "database": "payments",
                        "query": "SELECT saga_id, customer, amount, status FROM charges"}},
    "accounts": {"sql": {"service": "postgres", "database": "payments",
                         "query": "SELECT customer, balance, initial FROM accounts"}},
    "sagas": {"sql": {"service": "postgres", "database": "orchestrator", "query": "SELECT id, state FROM sagas"}},
}
INVARIANTS = {
    "money-conserved": {"description": "what left the accounts is what charges hold",
                        "expect": "sum(accounts.initial) - sum(accounts.balance) == sum(charges[status == 'charged'].amount)"},
    "no-orphan-charge": {"description": "only a completed saga keeps its charge",
                         "expect": "count(charges[status == 'charged' and saga_id not in "
                                   "sagas[state == 'completed'].id]) == 0"},
    "every-saga-ends": {"expect": "count(sagas[state not in ('completed', 'compensated')]) == 0"},
}
EXPERIMENT = """\
name: saga-effects
system: system.yaml
seed: 7
load: {users: 4, spawn_rate: 4, duration: 20s}
faults:
  - {name: payments-db-reset, type: reset_peer, edge: payments->payments-db, attributes: {timeout: 0}, start: 6s,
     duration: 5s}
checks:
  - {name: effects-hold, type: invariant}
"""


def run(tmp_path: Path, defect: str | None = None) -> tuple[int, dict[str, Any]]:
    # The test's own audits and invariants only, whatever the reference manifest declares.
    derive_system("saga", tmp_path, drop=("audits", "invariants"), audits=AUDITS, invariants=INVARIANTS,
                  quiescence={"quiet": "2s", "timeout": "30s", "interval": "500ms"})
    (tmp_path / "saga-effects.yaml").write_text(EXPERIMENT)
    out = tmp_path / (defect or "sound")
    args = [sys.executable, "-m", "harness.cli", "run", str(tmp_path / "saga-effects.yaml"), "--out", str(out), "--quiet"]
    proc = subprocess.run(args + (["--defect", defect] if defect else []), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    result = json.loads((out / "result.json").read_text())
    assert result["checks"], proc.stdout + proc.stderr
    return proc.returncode, result["checks"][0]


def test_the_sound_saga_keeps_its_invariants_after_a_database_outage(tmp_path: Path) -> None:
    code, check = run(tmp_path)
    assert code == 0 and check["verdict"] == "passed", check
    assert check["summary"].startswith("3 invariant(s) hold after quiescence")
    assert check["evidence"]["quiescence"]["settled"] is True
    assert check["evidence"]["audits"]["sagas"]["rows"] > 20


def test_a_skipped_compensation_breaks_the_orphan_invariant_and_names_the_charges(tmp_path: Path) -> None:
    code, check = run(tmp_path, "skip-compensation")
    assert code == 1 and check["verdict"] == "failed", check
    by_name = {i["name"]: i for i in check["evidence"]["invariants"]}
    assert by_name["no-orphan-charge"]["verdict"] == "failed"
    # Payments' own books still balance: only the cross-database invariant sees the harm.
    assert by_name["money-conserved"]["verdict"] == "passed"
    offending = next(t for t in by_name["no-orphan-charge"]["trace"] if t["expression"].startswith("charges["))
    assert offending["count"] > 0 and all(row["status"] == "charged" for row in offending["value"][:5])
    assert "'no-orphan-charge' violated" in check["summary"]
