"""A small synthetic run: 30 s of load at 10 req/s, one fault from 10 s to 20 s, a few events.

Built from record dicts, as the runner would journal them, so the reports are tested on the
same shape they read in production without starting a single process.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.checks.registry import CheckResult
from harness.journal import History
from harness.result import RunResult

T0 = 1_700_000_000.0  # load start
NASTY = """<script>alert("x") & 'y'</script>"""


def synthetic_records() -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = [
        {"kind": "run_started", "t": T0 - 5, "experiment": "breaker-opens", "system": "circuit-breaker",
         "seed": 42, "defect": None, "runtime": "local", "steady_state": {"warmup": 3, "settle": 5}},
        {"kind": "load_started", "t": T0},
        {"kind": "fault_applied", "t": T0 + 10, "fault": "payments-down", "type": "down",
         "target": "orders->payments", "attributes": {"latency": 0}, "stream": "downstream", "toxicity": 1.0},
        {"kind": "fault_removed", "t": T0 + 20, "fault": "payments-down"},
        {"kind": "event", "t": T0 + 10.4, "service": "orders", "type": "breaker_opened", "failures": 5},
        {"kind": "event", "t": T0 + 15.0, "service": "orders", "type": "breaker_half_open"},
        {"kind": "event", "t": T0 + 21.2, "service": "orders", "type": "breaker_closed", "note": NASTY},
        {"kind": "load_stopped", "t": T0 + 30},
    ]
    for s in range(30):
        in_fault = 10 <= s < 20
        for k in range(10):
            outcome = "ok"
            if in_fault and k % 3 == 0:
                outcome = "fail"
            elif in_fault and k == 5:
                outcome = "info"
            recs.append({"kind": "request", "t": T0 + s + k / 10, "name": "POST /orders", "method": "POST",
                         "ms": (200.0 if in_fault else 20.0) + k, "outcome": outcome, "status": 200})
    return recs


def synthetic_result(run_dir: Path) -> RunResult:
    checks = [
        CheckResult("steady-state before: error rate", "error_rate", "passed", "0.0% errors (limit 1%)",
                    {"requests": 70, "failed": 0, "window": {"window": "before", "from_s": 3.0, "to_s": 10.0}},
                    group="steady_state.before"),
        CheckResult("breaker opens", "event_within", "failed", "no breaker_opened within 2 s of payments-down",
                    {"bound_s": 2.0, "first_event_s": None,
                     "samples": [{"t_s": 10.4, "state": "closed"}, {"t_s": 11.0, "state": "closed"}],
                     "ratio": 0.333333333, "services": ["orders", "payments"]},
                    description="the breaker must open soon after the fault starts"),
        CheckResult("fallback & <quality>", "error_rate", "unknown", NASTY,
                    {"traceback": "Traceback (most recent call last):\n  ValueError: \"bad\" <value>"}),
        CheckResult("steady-state after: error rate", "error_rate", "passed", "0.0% errors (limit 1%)", {},
                    group="steady_state.after"),
    ]
    return RunResult(experiment="breaker-opens", system="circuit-breaker", run_dir=run_dir, seed=42,
                     runtime="local", defect="breaker_disabled", checks=checks, started=T0 - 5,
                     finished=T0 + 33, experiment_path="experiments/circuit-breaker/opens.yaml")


@pytest.fixture
def history() -> History:
    return History(synthetic_records())


@pytest.fixture
def result(tmp_path: Path) -> RunResult:
    return synthetic_result(tmp_path)
