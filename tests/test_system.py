"""Manifest rules for parameters, audits, invariants and quiescence; one test per rule."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.experiment import load_experiment
from harness.system import load_system

BASE = """\
name: shop
locustfile: locustfile.py
entry: front
parameters:
  back_timeout: 500ms
  retries: 3
services:
  db:
    command: ["{python}", "-m", "harness.infra.postgres"]
  back:
    command: ["{python}", "back.py"]
    upstreams:
      - {service: db, env: DB_URL}
  front:
    command: ["{python}", "front.py"]
    env: {BACK_TIMEOUT: "{params.back_timeout}", RETRIES: "{params.retries}"}
    upstreams:
      - {service: back, env: BACK_URL, timeout_param: back_timeout}
audits:
  orders: {sql: {service: db, database: shop, query: "SELECT id, state FROM orders"}}
  stock: {http: {service: back, path: /audit, pointer: /stock}}
invariants:
  no-stuck-order:
    expect: "count(orders[state not in ('done', 'refunded')]) == 0"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "locustfile.py").write_text("# empty\n")
    path = tmp_path / "system.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        load_system(write(tmp_path, text))
    return info.value.render()


def test_a_manifest_with_parameters_audits_and_invariants_loads(tmp_path: Path) -> None:
    system = load_system(write(tmp_path, BASE))
    assert system.params["back_timeout"].value == 0.5
    assert system.edges["front->back"].timeout_param == "back_timeout"
    assert system.audits["orders"].sql is not None and system.audits["stock"].http is not None
    assert system.quiescence.quiet == 2.0 and system.quiescence.timeout == 30.0


def test_a_timeout_param_must_name_a_duration_parameter(tmp_path: Path) -> None:
    text = problems(tmp_path, BASE.replace("timeout_param: back_timeout", "timeout_param: retries"))
    assert "services.front.upstreams[0].timeout_param: 'retries' is not a duration; duration parameters: back_timeout" in text


def test_an_unknown_parameter_in_env_is_named_with_its_line(tmp_path: Path) -> None:
    text = problems(tmp_path, BASE.replace("{params.retries}", "{params.retry}"))
    assert "system.yaml:16: services.front.env.RETRIES: {params.retry}: no parameter 'retry'; parameters: " \
           "back_timeout, retries" in text


def test_an_audit_of_an_unknown_service_is_named(tmp_path: Path) -> None:
    text = problems(tmp_path, BASE.replace("service: db, database", "service: dbx, database"))
    assert "audits.orders.sql.service: 'dbx' is not a service; services: db, back, front" in text


def test_an_audit_takes_exactly_one_source(tmp_path: Path) -> None:
    text = problems(tmp_path, BASE.replace("stock: {http: {service: back, path: /audit, pointer: /stock}}",
                                           "stock: {description: nothing}"))
    assert "audits.stock: give exactly one of 'sql:' or 'http:'" in text


def test_an_invariant_may_only_read_declared_audits(tmp_path: Path) -> None:
    text = problems(tmp_path, BASE.replace("count(orders[", "count(order[", 1))
    assert "invariants.no-stuck-order.expect: 'order' is not an audit; audits: orders, stock" in text


def test_an_invariant_refuses_code_that_is_not_an_expression_over_audits(tmp_path: Path) -> None:
    text = problems(tmp_path, BASE.replace('"count(orders[state not in (\'done\', \'refunded\')]) == 0"',
                                           '"orders.__class__.mro() == []"'))
    assert "invariants.no-stuck-order.expect: unknown function 'orders.__class__.mro'" in text


def test_quiet_must_be_shorter_than_the_timeout(tmp_path: Path) -> None:
    text = problems(tmp_path, BASE + "quiescence: {quiet: 30s, timeout: 10s}\n")
    assert "quiet (30s) must be shorter than timeout (10s)" in text


EXPERIMENT = """\
name: shop-slow
system: system.yaml
load: {users: 2, duration: 20s}
faults:
  - {name: slow, type: latency, edge: front->back, attributes: {latency: {param: back_timeout, times: 2}}, start: 5s}
checks:
  - {name: deadline-held, type: latency, percentile: 100, window: {during: slow}, max: "back_timeout + 50ms"}
  - {name: books-balance, type: invariant}
"""


def test_an_experiment_derives_bounds_and_fault_attributes_from_parameters(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    exp = load_experiment(tmp_path / "exp.yaml")
    assert exp.faults[0].parsed_attributes.latency == 1000
    check = exp.checks[0]
    assert check.parsed_params.max == pytest.approx(0.55)
    assert [d.describe() for d in check.derived] == ["max = back_timeout + 50ms = 550ms (back_timeout = 500ms)"]


def test_an_experiment_bound_naming_an_unknown_parameter_is_an_input_error(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.replace('max: "back_timeout + 50ms"', "max: {param: timeout}"))
    with pytest.raises(InputError) as info:
        load_experiment(tmp_path / "exp.yaml")
    assert "exp.yaml:7: checks[0].max: unknown parameter 'timeout' in 'timeout'; parameters: back_timeout, retries" \
        in info.value.render()


def test_an_invariant_check_names_only_declared_invariants(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.replace("type: invariant}", "type: invariant, invariants: [nope]}"))
    with pytest.raises(InputError) as info:
        load_experiment(tmp_path / "exp.yaml")
    assert "checks[1].invariants: system 'shop' has no invariant 'nope'; invariants: no-stuck-order" in info.value.render()


def test_an_invariant_check_needs_a_system_that_declares_invariants(tmp_path: Path) -> None:
    write(tmp_path, BASE.split("audits:")[0])
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    with pytest.raises(InputError) as info:
        load_experiment(tmp_path / "exp.yaml")
    assert "system 'shop' declares no invariants (add 'audits:' and 'invariants:' to its manifest)" in info.value.render()
