"""The new check types validate like every other: a misspelt fault or field is named with its line."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InputError
from harness.experiment import load_experiment

MANIFEST = """\
name: shop
locustfile: locustfile.py
entry: front
services:
  back:
    command: ["{python}", "back.py"]
  front:
    command: ["{python}", "front.py"]
    upstreams:
      - service: back
        env: BACK_URL
"""

EXPERIMENT = """\
name: shop-back-down
system: system.yaml
load: {users: 2, duration: 30s}
faults:
  - {name: back-down, type: down, edge: front->back, start: 10s, duration: 8s}
checks:
  - name: fails-over
    type: failover_time
    fault: back-down
    requests: {name_regex: "^GET /"}
    max: 3s
  - name: isolated
    type: isolation
    window: {during: back-down}
    baseline: before
    unaffected: {requests: {name: "GET /static"}}
    affected: {requests: {name: "GET /api"}, error_rate_min: 0.5}
"""


def load(tmp_path: Path, text: str):
    (tmp_path / "system.yaml").write_text(MANIFEST)
    (tmp_path / "locustfile.py").write_text("# empty\n")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return load_experiment(path)


def problems_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        load(tmp_path, text)
    return info.value.render()


def test_both_checks_load_with_their_parameters_parsed(tmp_path: Path) -> None:
    exp = load(tmp_path, EXPERIMENT)
    failover, isolated = (c.parsed_params for c in exp.checks)
    assert failover.max == 3.0 and failover.bucket == 1.0 and failover.edge == "start"
    assert isolated.unaffected.latency_ratio_max == 2.0 and isolated.affected.error_rate_min == 0.5


def test_failover_time_must_name_a_fault_of_the_experiment(tmp_path: Path) -> None:
    msg = problems_of(tmp_path, EXPERIMENT.replace("fault: back-down", "fault: back-dwn"))
    assert "exp.yaml:9: checks[0].fault: no fault named 'back-dwn' in this experiment; faults: back-down" in msg


def test_failover_time_edge_is_start_or_end(tmp_path: Path) -> None:
    msg = problems_of(tmp_path, EXPERIMENT.replace("    max: 3s", "    edge: stop\n    max: 3s"))
    assert "checks[0].edge" in msg and "'start' or 'end'" in msg


def test_an_isolation_baseline_must_name_a_fault_of_the_experiment(tmp_path: Path) -> None:
    msg = problems_of(tmp_path, EXPERIMENT.replace("baseline: before", "baseline: {after: nope}"))
    assert "checks[1].baseline: no fault named 'nope' in this experiment" in msg


def test_a_misspelt_isolation_field_is_named(tmp_path: Path) -> None:
    msg = problems_of(tmp_path, EXPERIMENT.replace("{requests: {name: \"GET /static\"}}",
                                                   "{requests: {name: \"GET /static\"}, latency_ratio: 2}"))
    assert "checks[1].unaffected.latency_ratio: unknown field 'latency_ratio' (did you mean 'latency_ratio_max'?)" in msg
