"""Load amplification on a faulted edge, for real: the sidecar's retries measured at the proxy.

The sidecar system runs under a manifest of this test's own: the retry policy comes from
manifest parameters (``attempts``), and a ``retry-storm`` defect removes the backoff and lets
the sidecar retry until its budget runs out. With every connection to inventory reset, the
sound sidecar makes ``attempts`` tries per request; the storm makes hundreds. The bound is
the mechanism's own parameter with a stated margin.
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

EXPERIMENT = """\
name: sidecar-amplification
system: system.yaml
seed: 3
load: {users: 4, spawn_rate: 4, duration: 20s}
faults:
  - {name: inventory-resets, type: reset_peer, edge: sidecar->inventory, attributes: {timeout: 0}, start: 8s,
     duration: 6s}
checks:
  - name: tries-within-attempts
    type: amplification
    edge: sidecar->inventory
    window: {during: inventory-resets, skip: 1s}
    max_ratio: {param: attempts, margin: 25%}
  - name: retries-happen
    type: amplification
    edge: sidecar->inventory
    window: {during: inventory-resets, skip: 1s}
    min_ratio: 2
"""


def run(tmp_path: Path, defect: str | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
    derive_system(
        "sidecar", tmp_path, parameters={"attempts": 4, "budget": "1s"},
        services={"sidecar": {"env": {"SIDECAR_ATTEMPTS": "{params.attempts}", "SIDECAR_BUDGET": "{params.budget}"}}},
        defects={"retry-storm": {
            "description": "no backoff and no cap on tries, only the budget: the sidecar hammers a failing upstream",
            "env": {"sidecar": {"SIDECAR_ATTEMPTS": "1000", "SIDECAR_BACKOFF_BASE": "0", "SIDECAR_BACKOFF_MAX": "0"}}}})
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    out = tmp_path / (defect or "sound")
    args = [sys.executable, "-m", "harness.cli", "run", str(tmp_path / "exp.yaml"), "--out", str(out), "--quiet"]
    proc = subprocess.run(args + (["--defect", defect] if defect else []), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    result = json.loads((out / "result.json").read_text())
    assert result["checks"], proc.stdout + proc.stderr
    return proc.returncode, {c["name"]: c for c in result["checks"]}


def test_the_sound_sidecar_puts_at_most_its_attempts_on_a_failing_upstream(tmp_path: Path) -> None:
    code, checks = run(tmp_path)
    assert code == 0, checks
    ratio = checks["tries-within-attempts"]["evidence"]["ratio"]
    assert 2 <= ratio <= 5, checks["tries-within-attempts"]["summary"]
    assert "max_ratio = attempts * 1.25 = 5 (attempts = 4)" in checks["tries-within-attempts"]["summary"]


def test_a_retry_storm_is_caught_at_the_proxy(tmp_path: Path) -> None:
    code, checks = run(tmp_path, "retry-storm")
    assert code == 1
    storm = checks["tries-within-attempts"]
    assert storm["verdict"] == "failed" and storm["evidence"]["ratio"] > 10, storm["summary"]
    assert checks["retries-happen"]["verdict"] == "passed"


@pytest.mark.full
def test_a_sidecar_without_retries_is_caught_by_the_minimum(tmp_path: Path) -> None:
    code, checks = run(tmp_path, "no-retries")
    assert code == 1
    assert checks["retries-happen"]["verdict"] == "failed", checks["retries-happen"]["summary"]
    assert checks["retries-happen"]["evidence"]["ratio"] < 1.5
