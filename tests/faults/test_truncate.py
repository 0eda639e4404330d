"""truncate: each connection's answer cut at its own offset, drawn in a range (limit_data cuts all at one)."""
from __future__ import annotations

import os
import socket

import pytest
from pydantic import ValidationError

from harness.faults import ActiveFault, Proxy, SimpleFaultContext, ToxiproxyClient, fault_type, validate_attributes
from harness.faults.capabilities import has_http_toxics

EDGE = "orders->payments"


def test_it_is_an_edge_fault_of_our_server_drawn_per_connection_downstream_by_default() -> None:
    kind = fault_type("truncate")
    assert (kind.target_kind, kind.per_request, kind.per_connection, kind.needs_http_toxics) == \
        ("edge", False, True, True)
    assert ActiveFault.create("f", "truncate", EDGE, {"max_bytes": 10}).stream == "downstream"


@pytest.mark.parametrize(("attributes", "message"), [
    ({}, "max_bytes"),
    ({"min_bytes": -1, "max_bytes": 3}, "greater than or equal to 0"),
    ({"min_bytes": 9, "max_bytes": 3}, r"max_bytes \(3\) must be at least min_bytes \(9\)"),
    ({"max_bytes": 3, "probability": 0.5}, "probability"),
])
def test_its_attributes_are_checked(attributes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_attributes("truncate", attributes)


def test_a_truncate_that_cut_nothing_says_so() -> None:
    fault = ActiveFault.create("f", "truncate", EDGE, {"min_bytes": 100, "max_bytes": 200})
    assert fault.kind.idle(fault, {"cut": 0, "passed": 4}) == "truncate cut no connection on orders->payments while applied"
    assert fault.kind.idle(fault, {"cut": 2, "passed": 0}) is None


def get_raw(proxy: Proxy) -> bytes:
    """One HTTP/1.0 request through the proxy; every byte until the connection ends."""
    host, port = proxy.listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        got = b""
        while chunk := s.recv(4096):
            got += chunk
        return got


@pytest.mark.integration
def test_each_connection_gets_a_prefix_of_the_answer_cut_at_its_own_offset(
    toxiproxy: ToxiproxyClient, edge_proxy: Proxy
) -> None:
    version = toxiproxy.version()
    if not has_http_toxics(version):
        message = f"toxiproxy-server {version} is a stock server without truncate: run `make tools`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    whole = get_raw(edge_proxy)
    assert whole.startswith(b"HTTP/1.0 200") and len(whole) > 60
    ctx = SimpleFaultContext(toxiproxy, {EDGE: edge_proxy.name})
    fault = ActiveFault.create("cut", "truncate", EDGE, {"min_bytes": 5, "max_bytes": 40})
    fault.kind.apply(ctx, fault)
    try:
        answers = [get_raw(edge_proxy) for _ in range(60)]
    finally:
        fault.kind.remove(ctx, fault)
    # The first 40 bytes end before the Date header, so each cut answer is a prefix of the whole.
    assert all(whole.startswith(a) and 5 <= len(a) <= 40 for a in answers), [len(a) for a in answers]
    assert len({len(a) for a in answers}) >= 12, sorted({len(a) for a in answers})  # not one offset: many
    assert fault.kind.traffic(ctx, fault) == {"cut": 60, "passed": 0}
    again = get_raw(edge_proxy)  # removed: answers whole again (its Date header may differ)
    assert len(again) == len(whole) and again.endswith(b"\r\n\r\nok\n")
