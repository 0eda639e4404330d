"""`harness init`'s starter runs as written: its stand-in service killed under real load, restarted,
judged recovered (real Toxiproxy, Locust and processes; about 35 s)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_starter_experiment_runs_and_passes(tmp_path: Path) -> None:
    harness = [sys.executable, "-m", "harness.cli"]
    assert subprocess.run([*harness, "init", "shop"], cwd=tmp_path, capture_output=True, timeout=60).returncode == 0
    proc = subprocess.run([*harness, "run", "shop/experiment.yaml", "--out", "run", "--quiet"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert [c["name"] for c in result["checks"] if c["verdict"] != "passed"] == []
    assert "recovers-after-restart" in {c["name"] for c in result["checks"]}
    assert result["counts"]["failures"] > 0  # the kill was felt by the load: the check judged a real outage
