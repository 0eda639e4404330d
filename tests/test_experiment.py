"""Validation rules of experiment files, one test per rule, asserting the message text."""
from __future__ import annotations

import textwrap
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
defects:
  broken:
    env: {front: {BROKEN: "1"}}
"""

GOOD = """\
name: shop-slow-back
system: system.yaml
seed: 7
load:
  users: 5
  duration: 30s
faults:
  - name: slow
    type: latency
    edge: front->back
    attributes: {latency: 500}
    start: 10s
    duration: 5s
steady_state:
  conditions:
    - type: error_rate
      max: 0.01
checks:
  - type: latency
    window: {during: slow}
    max: 100ms
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "system.yaml").write_text(MANIFEST)
    (tmp_path / "locustfile.py").write_text("# empty\n")
    return tmp_path


def write(workdir: Path, text: str) -> Path:
    p = workdir / "exp.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def problems_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_experiment(path)
    return info.value.render()


def test_a_valid_experiment_loads_with_its_system_and_parsed_attributes(workdir: Path) -> None:
    exp = load_experiment(write(workdir, GOOD))
    assert exp.target.name == "shop"
    assert exp.load.duration == 30.0
    assert exp.faults[0].parsed_attributes.latency == 500
    assert list(exp.target.edges) == ["front->back"]
    assert exp.checks[0].name == "latency"


def test_bad_yaml_names_the_file_and_line(workdir: Path) -> None:
    msg = problems_of(write(workdir, "name: x\nload: [unclosed\n"))
    assert "exp.yaml:" in msg and "invalid YAML" in msg


def test_an_unknown_field_is_named_with_its_line_and_the_known_fields(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("seed: 7", "sead: 7")))
    assert "exp.yaml:3: sead: unknown field 'sead' (did you mean 'seed'?)" in msg
    assert "known fields:" in msg


def test_an_unknown_fault_type_lists_the_known_types(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("type: latency\n    edge", "type: latncy\n    edge")))
    assert "faults[0].type: unknown fault type 'latncy' (did you mean 'latency'?)" in msg
    assert "down" in msg and "reset_peer" in msg


def test_a_misspelt_fault_attribute_is_named_with_the_known_ones(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("{latency: 500}", "{latancy: 500}")))
    assert "faults[0].attributes.latancy: unknown field 'latancy'" in msg
    assert "jitter" in msg


def test_a_duration_with_a_space_is_rejected_with_valid_forms(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("duration: 30s", "duration: 30 s")))
    assert "load.duration: invalid duration '30 s'" in msg and "'10s'" in msg
    assert "exp.yaml:6:" in msg


def test_an_edge_the_system_does_not_have_lists_its_edges(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("edge: front->back", "edge: front->db")))
    assert "faults[0].edge: system 'shop' has no edge 'front->db'; edges: front->back" in msg


def test_an_unknown_check_type_lists_the_known_ones(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("  - type: latency\n    window", "  - type: latensy\n    window")))
    assert "checks[0].type: unknown check type 'latensy'" in msg and "error_rate" in msg


def test_a_check_window_must_name_a_fault_of_the_experiment(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("{during: slow}", "{during: slwo}")))
    assert "checks[0].window: no fault named 'slwo' in this experiment; faults: slow" in msg


def test_a_check_parameter_error_points_into_the_check(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("max: 100ms", "max: fast")))
    assert "checks[0].max: invalid duration 'fast'" in msg


def test_a_fault_that_outlasts_the_load_is_rejected(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("duration: 5s", "duration: 50s")))
    assert "faults[0].duration: ends at 60s, after load ends at 30s" in msg


def test_an_unknown_system_lists_the_built_in_ones(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("system: system.yaml", "system: nope")))
    assert "system: unknown system 'nope'" in msg and "built-in:" in msg


def test_a_missing_required_field_is_named(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("system: system.yaml\n", "")))
    assert "system: required field is missing" in msg


def test_all_problems_are_reported_at_once(workdir: Path) -> None:
    bad = GOOD.replace("edge: front->back", "edge: nowhere").replace("{during: slow}", "{during: other}")
    msg = problems_of(write(workdir, bad))
    assert "nowhere" in msg and "other" in msg


def test_steady_state_conditions_take_no_window(workdir: Path) -> None:
    bad = GOOD.replace("    - type: error_rate\n      max: 0.01", "    - type: error_rate\n      max: 0.01\n      window: before")
    msg = problems_of(write(workdir, bad))
    assert "steady_state.conditions[0].window" in msg


def test_a_manifest_error_names_the_manifest_file(workdir: Path) -> None:
    (workdir / "system.yaml").write_text(MANIFEST.replace("entry: front", "entry: nobody"))
    msg = problems_of(write(workdir, GOOD))
    assert "system.yaml" in msg and "entry 'nobody' is not a service" in msg


def test_the_shipped_experiments_are_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    for path in sorted((root / "experiments").glob("*.yaml")):
        load_experiment(path)


def test_a_process_fault_needs_a_service_not_an_edge(workdir: Path) -> None:
    bad = GOOD.replace("type: latency\n    edge: front->back\n    attributes: {latency: 500}",
                       "type: kill\n    edge: front->back")
    msg = problems_of(write(workdir, bad))
    assert "faults[0].edge: fault type 'kill' acts on a service, not an edge; give 'service:' instead" in msg
    assert "faults[0]: fault type 'kill' needs 'service'; services: back, front" in msg


def test_a_process_fault_takes_no_toxicity(workdir: Path) -> None:
    bad = GOOD.replace("type: latency\n    edge: front->back\n    attributes: {latency: 500}",
                       "type: pause\n    service: back\n    toxicity: 0.5")
    msg = problems_of(write(workdir, bad))
    assert "faults[0].toxicity: fault type 'pause' acts on the whole service; it takes no 'toxicity'" in msg
