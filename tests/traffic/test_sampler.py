"""Edge traffic counters: parsed from Toxiproxy's metrics, sampled for real, read at any moment."""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from harness.faults import Proxy, ToxiproxyClient, ToxiproxyServer
from harness.traffic.sampler import ConnectionLog, EdgeSampler, counter_at, edge_series, parse_counters

PAGE = """\
# HELP toxiproxy_proxy_received_bytes_total The total bytes received
toxiproxy_proxy_received_bytes_total{direction="downstream",listener="127.0.0.1:1",proxy="a->b",upstream="x"} 380
toxiproxy_proxy_received_bytes_total{direction="upstream",listener="127.0.0.1:1",proxy="a->b",upstream="x"} 172
toxiproxy_proxy_sent_bytes_total{direction="downstream",listener="127.0.0.1:1",proxy="a->b",upstream="x"} 380
toxiproxy_proxy_sent_bytes_total{direction="upstream",listener="127.0.0.1:1",proxy="a->b",upstream="x"} 86
toxiproxy_proxy_sent_bytes_total{direction="upstream",listener="127.0.0.1:2",proxy="other",upstream="x"} 9
"""


def test_counters_are_parsed_per_edge_and_direction() -> None:
    assert parse_counters(PAGE, {"a->b": "a->b", "c->d": "c->d"}) == {
        "a->b": {"down_in": 380, "up_in": 172, "down_out": 380, "up_out": 86},
        "c->d": {"down_in": 0, "up_in": 0, "down_out": 0, "up_out": 0}}  # no traffic yet: zero, not unknown


def test_a_counter_is_interpolated_between_samples_and_unknown_outside_them() -> None:
    samples = [(10.0, 0.0), (11.0, 100.0), (12.0, 300.0)]
    assert counter_at(samples, 11.5) == 200.0
    assert counter_at(samples, 10.0) == 0.0 and counter_at(samples, 12.0) == 300.0
    assert counter_at(samples, 9.9) is None and counter_at(samples, 12.1) is None


def test_a_counter_reset_carries_on_from_where_it_was() -> None:
    records = [{"kind": "edge_counters", "t": t, "edges": {"e": {"up_in": v}}} for t, v in ((1, 50), (2, 80), (3, 10))]
    assert edge_series(records, "e") == [(1.0, 50.0), (2.0, 80.0), (3.0, 90.0)]


def test_connections_are_counted_per_proxy_from_the_log_as_lines_arrive(tmp_path: Path) -> None:
    log = tmp_path / "toxiproxy.log"
    accepted = '{"level":"info","name":"%s","client":"127.0.0.1:5","message":"Accepted client"}\n'
    log.write_text(accepted % "a->b" + accepted % "c->d" + '{"level":"info","name":"a->b","message":"Started proxy"}\n')
    counter = ConnectionLog(log, {"a->b": "a->b", "c->d": "c->d"})
    assert counter.read() == {"a->b": 1, "c->d": 1}
    with log.open("a") as f:
        f.write(accepted % "a->b" + accepted[:20])  # a line still being written
    assert counter.read() == {"a->b": 2, "c->d": 1}
    with log.open("a") as f:
        f.write((accepted % "a->b")[20:])
    assert counter.read() == {"a->b": 3, "c->d": 1}


@pytest.mark.integration
def test_the_sampler_records_what_a_real_proxy_carried(toxiproxy_server: ToxiproxyServer, toxiproxy: ToxiproxyClient,
                                                       edge_proxy: Proxy) -> None:
    sampler = EdgeSampler(toxiproxy.base_url, {edge_proxy.name: "orders->payments"}, interval=0.2,
                          log_path=toxiproxy_server.log_path).start()
    before = sampler.log.counts["orders->payments"] if sampler.log else 0
    for _ in range(5):
        httpx.get(f"http://{edge_proxy.listen}/", timeout=5).raise_for_status()  # a new connection each
    time.sleep(0.5)
    sampler.stop()
    records = sampler.drain()
    series = edge_series(records, "orders->payments")
    assert len(series) >= 3
    assert series[-1][1] >= 5 * 40  # five GET requests went up through the proxy (counted as they closed)
    conns = edge_series(records, "orders->payments", "conns")
    assert conns[-1][1] - before == 5


@pytest.mark.integration
def test_an_unreachable_toxiproxy_is_recorded_once_not_every_second() -> None:
    sampler = EdgeSampler("http://127.0.0.1:9", {}, interval=0.05).start()
    time.sleep(0.3)
    sampler.stop()
    errors = [r for r in sampler.drain() if r["kind"] == "edge_counters_error"]
    assert len(errors) == 1 and "ConnectError" in errors[0]["error"]
