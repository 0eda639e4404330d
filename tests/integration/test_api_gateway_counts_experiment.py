"""experiments/api-gateway-counts.yaml for real: with one user, the calls that reach a slow replica
before the gateway takes it out of rotation are exactly the configured failure threshold. The
defect is a code change no switch has (an off-by-one in the ejection rule, as a team might ship
it), applied to a copy of targets/. About 30 s a run."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = "experiments/api-gateway-counts.yaml"
CHECK = "b2-ejected-after-threshold-failures"
RULE = "replica.failures >= self.failure_threshold"


def test_the_sound_gateway_ejects_a_slow_replica_after_exactly_threshold_calls(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    evidence = run.check(CHECK)["evidence"]
    assert evidence["calls"] == 2, evidence  # failure_threshold in system.yaml


def test_an_off_by_one_ejection_rule_lets_one_more_call_reach_the_slow_replica(run_experiment, tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    shutil.copytree(ROOT / "targets", targets, ignore=shutil.ignore_patterns("__pycache__"))
    replicas = targets / "api-gateway" / "replicas.py"
    code = replicas.read_text()
    assert RULE in code
    replicas.write_text(code.replace(RULE, "replica.failures > self.failure_threshold"))
    run = run_experiment(EXPERIMENT, targets=targets)
    assert run.code == 1, run.explain()
    assert run.failed == {CHECK}, run.explain()  # users see nothing: only the count tells
    assert run.check(CHECK)["evidence"]["calls"] == 3, run.explain()
