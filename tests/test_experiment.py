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


def test_record_bodies_defaults_to_off_and_takes_no_negative_size(workdir: Path) -> None:
    assert load_experiment(write(workdir, GOOD)).load.record_bodies == 0
    msg = problems_of(write(workdir, GOOD.replace("users: 5", "users: 5\n  record_bodies: -1")))
    assert "load.record_bodies:" in msg and "greater than or equal to 0" in msg


def manifest_problems(workdir: Path, manifest: str) -> str:
    (workdir / "system.yaml").write_text(manifest)
    return problems_of(write(workdir, GOOD))


def test_a_service_that_is_its_own_upstream_is_named(workdir: Path) -> None:
    msg = manifest_problems(workdir, MANIFEST.replace("      - service: back\n", "      - service: front\n"))
    assert "system.yaml:10: services.front.upstreams[0].service: service 'front' is its own upstream" in msg


def test_an_upstream_cycle_is_shown_as_a_path(workdir: Path) -> None:
    cyclic = MANIFEST.replace('    command: ["{python}", "back.py"]\n',
                              '    command: ["{python}", "back.py"]\n    upstreams: [{service: front, env: FRONT_URL}]\n')
    assert "the upstreams form a cycle: back -> front -> back" in manifest_problems(workdir, cyclic)


def test_two_edges_with_one_name_are_refused(workdir: Path) -> None:
    twice = MANIFEST.replace("        env: BACK_URL\n", "        env: BACK_URL\n      - {service: back, env: BACK2_URL}\n")
    assert "edge 'front->back' is declared twice" in manifest_problems(workdir, twice)


@pytest.mark.parametrize("bad", ["{nope}", "{unclosed", "{port.real}", "{python!r}", "{}", "{edges[x->y]}"])
def test_unknown_and_malformed_placeholders_are_named_at_load_time(workdir: Path, bad: str) -> None:
    msg = manifest_problems(workdir, MANIFEST.replace('"back.py"', f'"{bad}"'))
    assert "system.yaml:6: services.back.command[1]:" in msg
    assert any(w in msg for w in ("unknown placeholder", "malformed placeholder", "takes no conversion", "unknown edge"))


@pytest.mark.parametrize("name", ["A=B", "WITH SPACE", "1ABC"])
def test_an_environment_name_no_environment_can_hold_is_refused(workdir: Path, name: str) -> None:
    msg = manifest_problems(workdir, MANIFEST.replace("env: BACK_URL", f'env: "{name}"'))
    assert "services.front.upstreams[0].env: environment variable name" in msg


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_a_port_outside_1_to_65535_is_refused(workdir: Path, port: int) -> None:
    msg = manifest_problems(workdir, MANIFEST.replace('"back.py"]\n', f'"back.py"]\n    port: {port}\n'))
    assert "services.back.port" in msg


def test_a_bad_manifest_is_named_under_the_experiments_system_field(workdir: Path) -> None:
    msg = manifest_problems(workdir, MANIFEST.replace("entry: front", "entry: nobody"))
    lines = msg.splitlines()
    assert lines[0] == f"{workdir / 'exp.yaml'}:2: system: the system manifest {workdir / 'system.yaml'} is invalid (1 problem below)"
    assert lines[1].startswith(f"{workdir / 'system.yaml'}")


def test_a_user_class_the_locustfile_does_not_define_is_refused(workdir: Path) -> None:
    (workdir / "locustfile.py").write_text("from locust import HttpUser\nclass Shopper(HttpUser):\n    pass\n")
    msg = problems_of(write(workdir, GOOD.replace("  users: 5\n", "  users: 5\n  user_classes: [Shoper]\n")))
    assert "load.user_classes: user class 'Shoper' is not defined or imported" in msg and "classes there: Shopper" in msg


def test_a_locustfile_that_is_not_python_is_refused(workdir: Path) -> None:
    (workdir / "locustfile.py").write_text("class Broken(:\n")
    assert "is not valid Python" in problems_of(write(workdir, GOOD))


def test_a_nan_duration_never_reaches_a_run(workdir: Path) -> None:
    assert "load.duration" in problems_of(write(workdir, GOOD.replace("duration: 30s", 'duration: "nan"')))
    assert ":6:" in problems_of(write(workdir, GOOD.replace("duration: 30s", "duration: .nan")))


def test_a_latency_beyond_what_toxiproxy_can_hold_is_refused(workdir: Path) -> None:
    msg = problems_of(write(workdir, GOOD.replace("latency: 500", "latency: 9223372036854775")))
    assert "faults[0].attributes.latency: must be at most" in msg


def test_thousands_of_problems_are_capped_with_a_count(workdir: Path) -> None:
    checks = "".join(f"  - {{type: latency, max: {i} s}}\n" for i in range(3000))
    msg = problems_of(write(workdir, GOOD.split("checks:")[0] + "checks:\n" + checks))
    assert len(msg.splitlines()) == 51 and "and 2950 more problem(s) (3000 in all)" in msg


def test_a_file_name_too_long_for_the_file_system_is_just_not_a_file(workdir: Path) -> None:
    msg = manifest_problems(workdir, MANIFEST.replace("locustfile: locustfile.py", "locustfile: " + "x" * 5000))
    assert "system.yaml:2: locustfile: no such file" in msg


def test_a_locustfile_importing_a_module_that_is_not_installed_is_refused(workdir: Path) -> None:
    (workdir / "locustfile.py").write_text("from locust import HttpUser\nimport no_such_module_xyz\n")
    assert "imports 'no_such_module_xyz', which is not installed" in problems_of(write(workdir, GOOD))
    (workdir / "helper.py").write_text("")
    (workdir / "locustfile.py").write_text("import helper\ntry:\n    import optional_thing\nexcept ImportError:\n    pass\n")
    load_experiment(write(workdir, GOOD))  # a module beside it, and an optional import, are fine
