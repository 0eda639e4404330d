"""Manifest parameters: their kinds, how templates render them, and bounds derived from them."""
from __future__ import annotations

import pytest

from harness.checks.builtin import LatencyParams
from harness.checks.isolation import IsolationParams
from harness.checks.promql import PromqlParams
from harness.faults import fault_type
from harness.params import DerivationError, Parameter, ParamValues, derive, evaluate_bound
from harness.registry import UnknownEntry

LatencyAttributes = fault_type("latency").Attributes
PARAMS = {p.name: p for p in (Parameter.parse("part_deadline", "500ms"), Parameter.parse("attempts", 3),
                              Parameter.parse("try_timeout", "200ms"), Parameter.parse("region", "eu-west"))}


def test_a_parameter_is_a_duration_a_number_or_text() -> None:
    assert (PARAMS["part_deadline"].kind, PARAMS["part_deadline"].value) == ("duration", 0.5)
    assert (PARAMS["attempts"].kind, PARAMS["attempts"].value) == ("number", 3)
    assert PARAMS["region"].kind == "text"


def test_a_parameter_name_must_be_an_identifier() -> None:
    with pytest.raises(ValueError, match="must be lowercase letters, digits and _"):
        Parameter.parse("part-deadline", "1s")


def test_templates_render_durations_in_seconds_or_milliseconds() -> None:
    values = ParamValues(PARAMS)
    assert "{params.part_deadline}".format(params=values) == "0.5"
    assert "{params.part_deadline.ms}".format(params=values) == "500"
    assert "{params.attempts}".format(params=values) == "3"


def test_an_unknown_parameter_in_a_template_lists_the_known_ones() -> None:
    with pytest.raises(UnknownEntry, match="unknown parameter 'deadline'.*known: attempts, part_deadline"):
        "{params.deadline}".format(params=ParamValues(PARAMS))


def test_bound_expressions_add_durations_and_scale_by_numbers() -> None:
    q, used = evaluate_bound("part_deadline + 50ms", PARAMS)
    assert (round(q.value, 6), q.dim, used) == (0.55, 1, ["part_deadline"])
    q, used = evaluate_bound("try_timeout * attempts + 100ms", PARAMS)
    assert (round(q.value, 6), q.dim, used) == (0.7, 1, ["try_timeout", "attempts"])
    q, _ = evaluate_bound("part_deadline / try_timeout", PARAMS)
    assert (q.value, q.dim) == (2.5, 0)


def test_a_number_plus_a_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot add or subtract a number and a duration"):
        evaluate_bound("attempts + 50ms", PARAMS)


def test_only_arithmetic_may_appear_in_a_bound() -> None:
    with pytest.raises(ValueError, match="only \\+ - \\* / \\( \\), numbers, durations and parameters"):
        evaluate_bound("max(part_deadline, 1s)", PARAMS)


def test_a_check_bound_derives_from_a_parameter_with_a_margin() -> None:
    raw = {"max": {"param": "part_deadline", "margin": "10%"}, "percentile": 100}
    out, found = derive(raw, LatencyParams, PARAMS)
    assert out["max"] == "550ms" and out["percentile"] == 100
    assert LatencyParams.model_validate(out).max == pytest.approx(0.55)
    assert found[0].describe() == "max = part_deadline * 1.1 = 550ms (part_deadline = 500ms)"


def test_times_and_an_absolute_margin_compose() -> None:
    out, found = derive({"max": {"param": "part_deadline", "times": 2, "margin": "50ms"}}, LatencyParams, PARAMS)
    assert out["max"] == "1050ms"
    assert found[0].expression == "part_deadline * 2 + 50ms"


def test_a_string_bound_naming_a_parameter_is_an_expression() -> None:
    out, found = derive({"max": "part_deadline + 50ms"}, LatencyParams, PARAMS)
    assert out["max"] == "550ms" and found[0].value == "550ms"


def test_plain_values_and_text_fields_are_left_alone() -> None:
    raw = {"query": "rate(attempts[5s]) * part_deadline", "max": 3}
    out, found = derive(raw, PromqlParams, PARAMS)
    assert out == raw and found == []
    out, found = derive({"max": "250ms"}, LatencyParams, PARAMS)
    assert out == {"max": "250ms"} and found == []


def test_nested_models_are_followed() -> None:
    raw = {"window": "before", "unaffected": {"requests": {"name": "GET /a"}, "latency_max": "part_deadline"}}
    out, found = derive(raw, IsolationParams, PARAMS)
    assert out["unaffected"]["latency_max"] == "500ms"
    assert found[0].field == "unaffected.latency_max"


def test_fault_attributes_take_whole_milliseconds_from_a_parameter() -> None:
    out, _ = derive({"latency": {"param": "part_deadline", "times": 2}}, LatencyAttributes, PARAMS)
    assert LatencyAttributes.model_validate(out).latency == 1000


def test_an_unknown_parameter_names_the_field() -> None:
    with pytest.raises(DerivationError, match="unknown parameter 'deadline'") as info:
        derive({"max": {"param": "deadline"}}, LatencyParams, PARAMS)
    assert info.value.path == ("max",)


def test_a_text_parameter_cannot_be_a_bound() -> None:
    with pytest.raises(DerivationError, match="parameter 'region' is text"):
        derive({"max": {"param": "region"}}, LatencyParams, PARAMS)


def test_a_misspelt_key_in_a_reference_is_named() -> None:
    with pytest.raises(DerivationError, match="unknown key\\(s\\) marign"):
        derive({"max": {"param": "part_deadline", "marign": "10%"}}, LatencyParams, PARAMS)


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(DerivationError, match="comes out negative"):
        derive({"max": "try_timeout - part_deadline"}, LatencyParams, PARAMS)
