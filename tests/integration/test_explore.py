"""``harness explore`` for real, through the CLI: the fault matrix on one deployment.

In ``make test``: the circuit-breaker system under a short budget (cells dropped and listed),
and an explore stopped by SIGINT in the middle of a fault (healed, stopped, reported).
In ``make test-full``: the saga system with invariants, sound and with a defect that breaks one.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from derived_system import ROOT, derive_system
from test_invariant_experiment import AUDITS, INVARIANTS

pytestmark = pytest.mark.integration


def explore(*args: str, timeout: float = 600) -> tuple[int, dict[str, Any], str]:
    out = Path(args[args.index("--out") + 1])
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "explore", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    return proc.returncode, result, proc.stdout + proc.stderr


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def started_pids(run_dir: Path) -> list[int]:
    records = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines() if line.strip()]
    return [r["pid"] for r in records if r["kind"] in ("service_started", "toxiproxy_started") and r.get("pid")]


def test_explore_runs_the_matrix_within_its_budget_and_reports_the_impact(tmp_path: Path) -> None:
    out = tmp_path / "cb"
    # 110 s: a cell costs its phases plus the quiescence and audits of the system's invariants (26 s here).
    code, result, output = explore("circuit-breaker", "--budget", "110s", "--seed", "3", "--out", str(out), "--quiet")
    assert code == 0, output
    matrix = result["matrix"]
    ran = [c for c in matrix["cells"] if c["status"] == "ran"]
    assert [c["fault"] for c in ran][0] == "baseline" and len(ran) >= 3
    # The budget kept every target's fail-fast cell and dropped the rest, saying so.
    assert {(c["target"], c["fault"]) for c in ran[1:]} == {("orders->payments", "down"), ("payments", "kill"),
                                                            ("orders", "kill")}
    assert matrix["dropped"] and all(d["reason"].startswith("budget: 110s") for d in matrix["dropped"])
    # The breaker's fallback answers orders while payments is unreachable; killing orders itself fails them.
    assert matrix["dependencies"] == {"orders->payments": [], "payments": [], "orders": [
        "GET /orders/{id}", "POST /orders", "POST /orders (resend)"]}
    verdicts = {c["name"]: c["verdict"] for c in result["checks"]}
    assert set(verdicts.values()) == {"passed"}, verdicts
    # Recovery per fault cell; the system's invariants (charged at most once) after every cell, baseline too.
    assert set(verdicts) == ({f"{c['id']}: recovery" for c in ran[1:]} | {f"{c['id']}: invariants" for c in ran})
    assert result["seed"] == 3 and "Impact matrix" in (out / "report.html").read_text()
    assert not [p for p in started_pids(out) if alive(p)]
    # `harness report` judges the cells again from the journal alone, to the same verdicts.
    (out / "result.json").unlink()
    again = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(out)], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    rerendered = json.loads((out / "result.json").read_text())
    assert [(c["id"], c["verdict"]) for c in rerendered["matrix"]["cells"]] == \
        [(c["id"], c["verdict"]) for c in matrix["cells"]]


def test_sigint_during_a_cell_heals_stops_and_reports_what_was_recorded(tmp_path: Path) -> None:
    out = tmp_path / "stopped"
    with (tmp_path / "output.txt").open("wb") as output:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "explore", "circuit-breaker", "--faults",
                                 "latency-above", "--phases", "3s,30s,5s", "--out", str(out), "--quiet"], cwd=ROOT,
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        journal = out / "journal.jsonl"
        while not (journal.exists() and '"kind":"fault_applied"' in journal.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "no fault was applied"
            time.sleep(0.2)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 130
    records = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    kinds = [r["kind"] for r in records]
    assert kinds.count("fault_applied") == kinds.count("fault_removed") == 1
    assert records[-1] == {**records[-1], "kind": "run_finished", "status": "interrupted"}
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "interrupted" and result["exit_code"] == 130
    assert any(c["status"] == "interrupted" for c in result["matrix"]["cells"])
    assert not [p for p in started_pids(out) if alive(p)]


def saga(tmp_path: Path) -> Path:
    return derive_system("saga", tmp_path / "system", drop=("audits", "invariants"), audits=AUDITS,
                         invariants=INVARIANTS)


@pytest.mark.full
def test_explore_on_the_sound_saga_keeps_its_invariants_in_every_cell(tmp_path: Path) -> None:
    out = tmp_path / "saga"
    code, result, output = explore(str(saga(tmp_path)), "--budget", "6m", "--out", str(out), "--quiet", timeout=1200)
    inv = [c for c in result["checks"] if c["type"] == "explore.invariants"]
    assert inv and all(c["verdict"] == "passed" for c in inv), output
    assert code == 0, "\n".join(f"{c['verdict']} {c['name']}: {c['summary']}" for c in result["checks"])


@pytest.mark.full
def test_explore_catches_a_skipped_compensation_through_the_invariants(tmp_path: Path) -> None:
    out = tmp_path / "saga-defect"
    code, result, output = explore(str(saga(tmp_path)), "--budget", "3m", "--defect", "skip-compensation", "--out",
                                   str(out), "--quiet", timeout=1200)
    assert code == 1, output
    failed = [c for c in result["checks"] if c["type"] == "explore.invariants" and c["verdict"] == "failed"]
    assert failed and "'no-orphan-charge' violated" in failed[0]["summary"]
