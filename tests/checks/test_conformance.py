"""The response conformance check on hand-built journals: passes, fails with the offending
answers as evidence, and comes out unknown when it has nothing to judge."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harness.checks.conformance import ConformanceParams, conformance
from harness.checks.evaluate import run_one
from harness.checks.pointer import resolve_pointer, valid_pointer
from harness.checks.windows import Windows
from harness.errors import InputError
from harness.experiment import load_experiment
from harness.journal import History

T0 = 1_000_000.0

ITEM = {
    "type": "object",
    "required": ["id", "price"],
    "properties": {"id": {"type": "string"}, "price": {"type": "number", "minimum": 0},
                   "opened": {"type": "string", "format": "date"}, "degraded": {"type": "boolean"}},
}
ERROR = {"type": "object", "required": ["error", "degraded"],
         "properties": {"error": {"type": "string"}, "degraded": {"const": True}}}
OK_BODY = json.dumps({"id": "a1", "price": 9.5})
DEGRADED_BODY = json.dumps({"error": "upstream unavailable", "degraded": True})


def history(answers: list[tuple[float, int | None, Any]], fault: tuple[float, float | None] | None = (10.0, 20.0),
            end: float = 30.0, experiment_path: str | None = None) -> History:
    """answers: (offset s, status or None, body: str | None (no body) | ("cut", text))."""
    recs: list[dict[str, Any]] = [
        {"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 1.0, "settle": 2.0},
         "experiment_path": experiment_path},
        {"kind": "load_started", "t": T0},
    ]
    for off, status, body in answers:
        r: dict[str, Any] = {"kind": "request", "t": T0 + off, "name": "GET /items/[id]", "method": "GET", "ms": 5.0,
                             "outcome": "ok" if status == 200 else "fail", "status": status,
                             "error": None if status else "ConnectionResetError"}
        if isinstance(body, tuple):
            r["body"], r["body_truncated"] = body[1], True
        elif body is not None:
            r["body"] = body
        recs.append(r)
    if fault is not None:
        recs.append({"kind": "fault_applied", "t": T0 + fault[0], "fault": "f", "type": "limit_data", "target": "a->b"})
        if fault[1] is not None:
            recs.append({"kind": "fault_removed", "t": T0 + fault[1], "fault": "f"})
    recs.append({"kind": "load_stopped", "t": T0 + end})
    return History(recs)


def steady(status: int | None = 200, body: Any = OK_BODY, start: float = 1.0, end: float = 30.0, step: float = 0.5):
    return [(start + i * step, status, body) for i in range(int((end - start) / step))]


def params(**kw: Any) -> ConformanceParams:
    base: dict[str, Any] = {"by_status": {200: ITEM, 503: ERROR}, "statuses": [200, 503],
                            "degraded": {"status": [503], "marker": "/degraded"}}
    base.update(kw)
    return ConformanceParams.model_validate(base)


def run(h: History, p: ConformanceParams):
    return conformance(h, p, Windows(h))


# --- pass -----------------------------------------------------------------------------------


def test_plain_and_degraded_answers_of_the_declared_shapes_pass() -> None:
    h = history(steady(end=10) + steady(503, DEGRADED_BODY, start=10, end=20) + steady(start=20))
    out = run(h, params(min_degraded=5))
    assert out.verdict == "passed", out.summary
    assert out.evidence["non_conforming"] == 0 and out.evidence["degraded"] == 20
    assert out.evidence["statuses"] == {"200": 38, "503": 20}


def test_one_schema_for_every_status_is_enough() -> None:
    h = history(steady())
    out = run(h, ConformanceParams.model_validate({"schema": ITEM}))
    assert out.verdict == "passed" and out.evidence["conforming"] == 58


def test_a_partial_answer_that_says_so_passes() -> None:
    partial = json.dumps({"id": "a1", "price": 1.0, "parts": {"reviews": None}, "degraded": True})
    h = history(steady(body=partial))
    p = params(degraded={"missing": ["/parts/reviews"], "marker": "/degraded"}, min_degraded=1)
    assert run(h, p).verdict == "passed"


# --- fail -----------------------------------------------------------------------------------


def test_a_body_that_breaks_the_schema_fails_with_time_status_body_and_error() -> None:
    garbage = json.dumps({"id": "a1", "price": None})
    h = history(steady(end=10) + steady(body=garbage, start=10, end=12) + steady(start=12))
    out = run(h, params())
    assert out.verdict == "failed"
    assert out.evidence["non_conforming"] == 4
    first = out.evidence["non_conforming_examples"][0]
    assert first["at_s"] == 10.0 and first["status"] == 200 and first["body"] == garbage
    assert first["problem"] == "$.price: None is not of type 'number'"
    assert "4 of 58 answers in 'all' do not conform" in out.summary and "first at 10.0s" in out.summary


def test_formats_are_enforced() -> None:
    h = history(steady(body=json.dumps({"id": "a1", "price": 1, "opened": "2019-13-45"})))
    out = run(h, params())
    assert out.verdict == "failed" and "is not a 'date'" in out.evidence["non_conforming_examples"][0]["problem"]


def test_a_status_outside_the_declared_ones_fails_even_without_a_body() -> None:
    h = history(steady() + [(15.0, 500, "Internal Server Error")])
    out = run(h, params())
    assert out.verdict == "failed"
    assert out.evidence["problems"] == {"status 500: status 500 is not one of [200, 503]": 1}


def test_a_body_that_is_not_json_fails() -> None:
    h = history(steady() + [(15.0, 503, "<html>bad gateway</html>")])
    out = run(h, params())
    assert out.verdict == "failed" and out.evidence["non_conforming_examples"][0]["problem"] == "body is not JSON"


def test_a_degraded_answer_that_does_not_say_so_fails() -> None:
    silent = json.dumps({"error": "upstream unavailable", "degraded": False})
    h = history(steady() + [(15.0, 503, silent)])
    out = run(h, params(by_status={200: ITEM}))  # no schema for 503: only the marker rule catches it
    assert out.verdict == "failed"
    assert out.evidence["non_conforming_examples"][0]["problem"] == (
        "degraded answer (status 503) does not say so: /degraded is not set")


def test_a_partial_answer_that_does_not_say_so_fails() -> None:
    partial = json.dumps({"id": "a1", "price": 1.0, "parts": {}})
    h = history(steady() + [(15.0, 200, partial)])
    out = run(h, params(degraded={"missing": ["/parts/reviews"], "marker": "/degraded"}))
    assert out.verdict == "failed" and "/parts/reviews is missing" in out.summary


def test_a_marker_that_must_equal_a_value() -> None:
    h = history(steady() + [(15.0, 503, json.dumps({"error": "x", "degraded": True, "mode": "full"}))])
    p = params(by_status={200: ITEM}, degraded={"status": [503], "marker": "/mode", "equals": "partial"})
    assert run(h, p).verdict == "failed"


def test_no_answer_is_ignored_unless_told_otherwise() -> None:
    h = history(steady() + [(15.0, None, None)])
    assert run(h, params()).verdict == "passed"
    out = run(h, params(no_answer="fail"))
    assert out.verdict == "failed" and "no answer" in out.evidence["non_conforming_examples"][0]["problem"]


def test_a_tolerance_lets_a_few_through_and_says_so() -> None:
    h = history(steady() + [(15.0, 500, "boom")])
    out = run(h, params(max_nonconforming=1))
    assert out.verdict == "passed" and "58 of 59 answers" in out.summary


# --- unknown --------------------------------------------------------------------------------


def test_without_recorded_bodies_the_check_is_unknown_and_says_how_to_fix_it() -> None:
    h = history(steady(body=None))
    out = run(h, params())
    assert out.verdict == "unknown" and "set load.record_bodies" in out.summary


def test_no_traffic_in_the_window_is_unknown() -> None:
    h = history(steady(end=9))
    out = run(h, params(window={"during": "f"}))
    assert out.verdict == "unknown" and "only 0 answers" in out.summary


def test_a_fault_that_never_took_effect_is_unknown() -> None:
    h = history(steady(), fault=None)
    out = run(h, params(window={"during": "f"}))
    assert out.verdict == "unknown" and "never applied" in out.summary


def test_a_fault_that_degraded_nothing_is_unknown_when_degraded_answers_are_required() -> None:
    h = history(steady())  # the fault was applied, yet every answer is a plain 200
    out = run(h, params(window={"during": "f"}, min_degraded=1))
    assert out.verdict == "unknown" and "only 0 degraded answers" in out.summary


def test_a_recovery_that_never_came_leaves_the_after_window_unknown() -> None:
    h = history(steady(503, DEGRADED_BODY), fault=(10.0, None))
    out = run(h, params(window={"after": "f"}))
    assert out.verdict == "unknown" and "never removed" in out.summary


def test_bodies_cut_by_the_recording_limit_are_not_judged() -> None:
    h = history(steady(body=("cut", OK_BODY[:5])))
    out = run(h, params())
    assert out.verdict == "unknown" and out.evidence["unchecked"] == 58


def test_a_crash_inside_the_check_is_unknown_not_a_pass() -> None:
    from harness.experiment import CheckSpec

    spec = CheckSpec.model_validate({"type": "conformance", "schema": ITEM})
    spec.parsed_params = None  # what a broken params object would look like to the check
    out = run_one(spec, history(steady()), Windows(history(steady())), group="checks")
    assert out.verdict == "unknown" and "crashed" in out.summary


# --- parameters and schema files ------------------------------------------------------------


def test_a_schema_is_required() -> None:
    with pytest.raises(ValidationError, match="give 'schema'"):
        ConformanceParams.model_validate({"statuses": [200]})


def test_an_invalid_inline_schema_is_refused_with_where_it_is_wrong() -> None:
    with pytest.raises(ValidationError, match=r"schema is not a valid JSON Schema: 'strin' is not valid"):
        ConformanceParams.model_validate({"schema": {"type": "strin"}})


def test_a_bad_pointer_is_refused() -> None:
    with pytest.raises(ValidationError, match="'degraded' is not a JSON pointer"):
        params(degraded={"status": [503], "marker": "degraded"})


def test_pointers_resolve_like_rfc_6901() -> None:
    doc = {"a": [{"b/c": 1, "m~n": 2}], "z": None}
    assert resolve_pointer(doc, "/a/0/b~1c") == (True, 1)
    assert resolve_pointer(doc, "/a/0/m~0n") == (True, 2)
    assert resolve_pointer(doc, "/z") == (True, None)
    assert resolve_pointer(doc, "/a/1") == (False, None)
    assert resolve_pointer(doc, "/a/01") == (False, None)
    assert resolve_pointer(doc, "/a/0/b~1c/deeper") == (False, None)
    assert resolve_pointer(doc, "") == (True, doc)
    assert valid_pointer("/a~2") is False and valid_pointer("a") is False


SYSTEM = """\
name: shop
locustfile: locustfile.py
entry: front
services:
  front:
    command: ["{python}", "front.py"]
"""

EXPERIMENT = """\
name: shop-shapes
system: system.yaml
load: {duration: 10s, record_bodies: 4096}
checks:
  - name: shapes
    type: conformance
    requests: {name: "GET /items/[id]"}
    schema: SCHEMA
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "system.yaml").write_text(SYSTEM)
    (tmp_path / "locustfile.py").write_text("# empty\n")
    return tmp_path


def test_a_schema_file_is_read_relative_to_the_experiment(workdir: Path) -> None:
    (workdir / "schemas").mkdir()
    (workdir / "schemas" / "item.json").write_text(json.dumps(ITEM))
    path = workdir / "exp.yaml"
    path.write_text(EXPERIMENT.replace("SCHEMA", "schemas/item.json"))
    exp = load_experiment(path)
    p = exp.checks[0].parsed_params
    assert p.schema_for(200) == ITEM
    h = history(steady(body=json.dumps({"id": 3})), experiment_path=str(path))
    out = conformance(h, p, Windows(h))
    assert out.verdict == "failed" and "'price' is a required property" in out.summary


def test_a_yaml_schema_file_works_too(workdir: Path) -> None:
    (workdir / "item.yaml").write_text(textwrap.dedent("""\
        type: object
        required: [id]
    """))
    path = workdir / "exp.yaml"
    path.write_text(EXPERIMENT.replace("SCHEMA", "item.yaml"))
    assert load_experiment(path).checks[0].parsed_params.schema_for(200) == {"type": "object", "required": ["id"]}


def test_a_missing_schema_file_is_an_input_error_naming_the_field(workdir: Path) -> None:
    path = workdir / "exp.yaml"
    path.write_text(EXPERIMENT.replace("SCHEMA", "nope.json"))
    with pytest.raises(InputError) as info:
        load_experiment(path)
    msg = info.value.render()
    assert "exp.yaml:8: checks[0].schema: cannot read schema file" in msg and "nope.json" in msg


def test_a_schema_file_that_is_not_a_schema_is_an_input_error(workdir: Path) -> None:
    (workdir / "bad.json").write_text('{"type": 12}')
    path = workdir / "exp.yaml"
    path.write_text(EXPERIMENT.replace("SCHEMA", "bad.json"))
    with pytest.raises(InputError) as info:
        load_experiment(path)
    assert "checks[0].schema: schema file" in info.value.render() and "is not a valid JSON Schema" in info.value.render()
