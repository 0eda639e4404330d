"""The gateway's replica pool: round robin, passive down-marking, probing back, and the defect."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from edge_services import ROOT


def _load_replicas():
    path = ROOT / "targets" / "api-gateway" / "replicas.py"
    spec = importlib.util.spec_from_file_location("api_gateway_replicas", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


replicas = _load_replicas()
Replica, ReplicaPool, parse_routes = replicas.Replica, replicas.ReplicaPool, replicas.parse_routes


def pool(failover: bool = True, threshold: int = 2):
    p = ReplicaPool("a", [Replica("a1", "http://a1"), Replica("a2", "http://a2")], failure_threshold=threshold,
                    failover=failover)
    changes: list[tuple[str, str, str]] = []
    p.add_listener(lambda r, state, reason: changes.append((r.name, state, reason)))
    return p, changes


def names(replicas) -> list[str]:
    return [r.name for r in replicas]


def test_round_robin_puts_the_other_replica_next_as_the_retry() -> None:
    p, _ = pool()
    assert [names(p.attempt_order()) for _ in range(3)] == [["a1", "a2"], ["a2", "a1"], ["a1", "a2"]]


def test_consecutive_failures_take_a_replica_out_of_rotation() -> None:
    p, changes = pool()
    a1 = p.replicas[0]
    p.record(a1, ok=False)
    assert a1.healthy and changes == []
    p.record(a1, ok=False)
    assert not a1.healthy and changes == [("a1", "down", "2 failed attempts in a row")]
    assert [names(p.attempt_order()) for _ in range(2)] == [["a2"], ["a2"]]
    assert names(p.down()) == ["a1"]


def test_a_success_resets_the_failure_count() -> None:
    p, changes = pool()
    a1 = p.replicas[0]
    for ok in (False, True, False):
        p.record(a1, ok=ok)
    assert a1.healthy and a1.failures == 1 and changes == []


def test_a_probe_brings_a_replica_back() -> None:
    p, changes = pool(threshold=1)
    a1 = p.replicas[0]
    p.record(a1, ok=False)
    p.mark_up(a1)
    assert a1.healthy and a1.failures == 0
    assert changes == [("a1", "down", "1 failed attempt in a row"), ("a1", "up", "health probe answered")]
    p.mark_up(a1)  # already up: no second event
    assert len(changes) == 2


def test_with_every_replica_down_all_are_still_tried() -> None:
    p, _ = pool(threshold=1)
    for r in p.replicas:
        p.record(r, ok=False)
    assert sorted(names(p.attempt_order())) == ["a1", "a2"]
    p.record(p.replicas[1], ok=True)  # a2 answered after all: it is back
    assert p.replicas[1].healthy and names(p.attempt_order()) == ["a2"]


def test_the_no_failover_defect_round_robins_blindly_with_one_attempt() -> None:
    p, changes = pool(failover=False)
    a1 = p.replicas[0]
    for _ in range(5):
        p.record(a1, ok=False)
    assert a1.healthy and changes == []
    assert [names(p.attempt_order()) for _ in range(4)] == [["a1"], ["a2"], ["a1"], ["a2"]]


def test_routes_are_parsed_with_each_replica_url() -> None:
    urls = {"backend-a1": "http://x:1/", "backend-a2": "http://x:2", "backend-b1": "http://x:3"}
    routes = parse_routes("a=backend-a1, backend-a2; b=backend-b1", urls.get)
    assert {k: [(r.name, r.url) for r in v] for k, v in routes.items()} == {
        "a": [("backend-a1", "http://x:1"), ("backend-a2", "http://x:2")], "b": [("backend-b1", "http://x:3")]}


@pytest.mark.parametrize("spec,message", [
    ("", "ROUTES is empty"),
    ("a", "ROUTES: 'a' is not 'backend=replica,replica'"),
    ("a=", "ROUTES: 'a=' is not 'backend=replica,replica'"),
    ("a=backend-a9", "ROUTES: replica 'backend-a9' has no URL (set BACKEND_A9_URL)"),
])
def test_bad_routes_are_named(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_routes(spec, {}.get)
    assert message in str(info.value)
