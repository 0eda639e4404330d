"""The fault registry: validation before anything starts, then faults applied to the real server."""
from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import harness.faults
from harness.faults import (
    FAULT_TYPES,
    ActiveFault,
    Proxy,
    SimpleFaultContext,
    ToxiproxyClient,
    fault_type,
    validate_attributes,
)
from harness.registry import UnknownEntry

TOXICS = ["bandwidth", "latency", "limit_data", "reset_peer", "slicer", "slow_close", "timeout"]
NETWORK = [*TOXICS, "down"]  # other modules (process faults, plugins) register more types


def timed_get(url: str) -> float:
    with httpx.Client(trust_env=False, timeout=5.0) as http:
        started = time.perf_counter()
        assert http.get(url).status_code == 200
        return time.perf_counter() - started


# -- the registry ------------------------------------------------------------------------------

def test_every_toxiproxy_toxic_and_down_is_registered() -> None:
    assert set(NETWORK) <= set(FAULT_TYPES.names())


def test_every_network_fault_targets_an_edge() -> None:
    assert {fault_type(name).target_kind for name in NETWORK} == {"edge"}


def test_an_unknown_fault_type_names_the_closest_and_lists_the_known_ones() -> None:
    with pytest.raises(UnknownEntry) as caught:
        validate_attributes("latncy", {})
    assert str(caught.value) == (
        f"unknown fault type 'latncy' (did you mean 'latency'?); known: {', '.join(FAULT_TYPES.names())}"
    )
    assert "bandwidth, blackhole, cut_after_match, down, " in str(caught.value)


def test_the_package_exports_exactly_its_public_names() -> None:
    public = [
        name for name, value in vars(harness.faults).items()
        if not name.startswith("_") and name != "annotations" and not isinstance(value, ModuleType)
    ]
    assert sorted(harness.faults.__all__) == sorted(public)


# -- attributes --------------------------------------------------------------------------------

def test_a_misspelt_attribute_fails_listing_the_known_ones() -> None:
    known = r"unknown field 'latncy' \(did you mean 'latency'\?\); known fields: latency, jitter"
    with pytest.raises(ValidationError, match=known):
        validate_attributes("latency", {"latncy": 300})


@pytest.mark.parametrize(
    ("written", "ms"), [("2s", 2000), ("500ms", 500), (300, 300), ("1.5s", 1500), ("1m", 60000)]
)
def test_a_time_is_whole_milliseconds_written_as_a_number_or_a_duration(written: Any, ms: int) -> None:
    assert validate_attributes("latency", {"latency": written}).model_dump() == {"latency": ms, "jitter": 0}


@pytest.mark.parametrize("written", [-1, "-2s"])
def test_a_negative_time_is_rejected(written: Any) -> None:
    with pytest.raises(ValidationError, match="negative|invalid duration"):
        validate_attributes("timeout", {"timeout": written})


def test_a_number_in_a_string_is_rejected_showing_the_valid_forms() -> None:
    valid_forms = r"invalid duration '300': write a whole number of milliseconds \(300\) or a duration"
    with pytest.raises(ValidationError, match=valid_forms):
        validate_attributes("slow_close", {"delay": "300"})


@pytest.mark.parametrize("written", ["0.5ms", 1.5, True])
def test_a_time_that_is_not_a_whole_number_of_milliseconds_is_rejected(written: Any) -> None:
    with pytest.raises(ValidationError):
        validate_attributes("latency", {"latency": written})


def test_the_slicer_delay_is_in_microseconds() -> None:
    assert validate_attributes("slicer", {"average_size": 64, "delay": "1ms"}).model_dump() == {
        "average_size": 64, "size_variation": 0, "delay": 1000}


def test_the_slicer_needs_a_positive_average_size_because_zero_crashes_the_server() -> None:
    with pytest.raises(ValidationError, match="average_size"):
        validate_attributes("slicer", {})
    with pytest.raises(ValidationError, match="greater than 0"):
        validate_attributes("slicer", {"average_size": 0})


def test_the_slicer_variation_must_be_below_the_average_size() -> None:
    with pytest.raises(ValidationError, match=r"size_variation \(64\) must be less than average_size \(64\)"):
        validate_attributes("slicer", {"average_size": 64, "size_variation": 64})


def test_bandwidth_needs_a_positive_rate_because_zero_stops_all_data() -> None:
    with pytest.raises(ValidationError, match="rate"):
        validate_attributes("bandwidth", {})
    assert validate_attributes("bandwidth", {"rate": 100}).model_dump() == {"rate": 100}


def test_other_attributes_default_to_toxiproxys_zero_values() -> None:
    with_defaults = [name for name in NETWORK if name not in {"bandwidth", "slicer"}]
    defaults = {name: validate_attributes(name, None).model_dump() for name in with_defaults}
    assert defaults == {
        "down": {}, "latency": {"latency": 0, "jitter": 0}, "limit_data": {"bytes": 0},
        "reset_peer": {"timeout": 0}, "slow_close": {"delay": 0}, "timeout": {"timeout": 0},
    }


# -- the fault envelope ------------------------------------------------------------------------

def test_toxicity_outside_zero_to_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="toxicity must be between 0 and 1, got 1.5"):
        ActiveFault.create("slow", "latency", "a->b", {"latency": 5}, toxicity=1.5)


def test_a_stream_other_than_downstream_or_upstream_is_rejected() -> None:
    with pytest.raises(ValueError, match="stream must be 'downstream' or 'upstream', got 'sideways'"):
        ActiveFault.create("slow", "latency", "a->b", stream="sideways")  # type: ignore[arg-type]


def test_down_takes_no_stream_or_toxicity() -> None:
    with pytest.raises(ValueError, match="fault type 'down' takes no stream or toxicity"):
        ActiveFault.create("cut", "down", "a->b", toxicity=0.5)


def test_an_unknown_edge_names_the_known_ones() -> None:
    ctx = SimpleFaultContext(ToxiproxyClient(), {"orders->payments": "p1"})
    try:
        with pytest.raises(UnknownEntry, match="unknown edge 'orders->payment' .*known: orders->payments"):
            ctx.proxy_for_edge("orders->payment")
    finally:
        ctx.toxiproxy.close()


# -- against the real toxiproxy-server -----------------------------------------------------------

# The two types without defaults; the others are applied with Toxiproxy's zero values.
MINIMAL: dict[str, dict[str, Any]] = {
    "bandwidth": {"rate": 100},
    "slicer": {"average_size": 64, "size_variation": 8, "delay": "1ms"},
}


@pytest.mark.integration
@pytest.mark.parametrize("name", TOXICS)
def test_every_registered_toxic_is_accepted_by_the_real_server(
    name: str, toxiproxy: ToxiproxyClient, edge_proxy: Proxy
) -> None:
    ctx = SimpleFaultContext(toxiproxy, {"orders->payments": edge_proxy.name})
    fault = ActiveFault.create(f"{name}-fault", name, "orders->payments", MINIMAL.get(name), "upstream", 0.25)

    fault.kind.apply(ctx, fault)
    (toxic,) = toxiproxy.toxics(edge_proxy.name)
    assert (toxic.name, toxic.type, toxic.stream, toxic.toxicity) == (f"{name}-fault", name, "upstream", 0.25)
    assert toxic.attributes == fault.attributes.model_dump()

    fault.kind.remove(ctx, fault)
    assert toxiproxy.toxics(edge_proxy.name) == []


@pytest.mark.integration
def test_a_latency_fault_delays_requests_and_removing_it_restores_them(
    toxiproxy: ToxiproxyClient, edge_proxy: Proxy
) -> None:
    ctx = SimpleFaultContext(toxiproxy, {"orders->payments": edge_proxy.name})
    fault = ActiveFault.create("slow-payments", "latency", "orders->payments", {"latency": "300ms"})
    url = f"http://{edge_proxy.listen}/"

    fault.kind.apply(ctx, fault)
    assert timed_get(url) >= 0.25
    fault.kind.remove(ctx, fault)
    assert timed_get(url) < 0.2


@pytest.mark.integration
def test_the_down_fault_makes_connections_fail_until_it_is_removed(
    toxiproxy: ToxiproxyClient, edge_proxy: Proxy
) -> None:
    ctx = SimpleFaultContext(toxiproxy, {"orders->payments": edge_proxy.name})
    fault = ActiveFault.create("payments-down", "down", "orders->payments")
    url = f"http://{edge_proxy.listen}/"

    fault.kind.apply(ctx, fault)
    assert toxiproxy.get_proxy(edge_proxy.name).enabled is False
    with pytest.raises(httpx.ConnectError):
        timed_get(url)

    fault.kind.remove(ctx, fault)
    assert timed_get(url) < 1.0
