"""HTTP fault types: validation, and the real toxiproxy-server (ours) between real clients
(httpx, Locust's FastHttpUser) and a real HTTP/1.1 upstream (uvicorn)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from harness.errors import ToxiproxyError
from harness.faults import ActiveFault, SimpleFaultContext, ToxiproxyClient, fault_type, validate_attributes
from harness.faults.capabilities import has_http_toxics
from harness.faults.http_toxics import read_traffic
from harness.data import read_requests
from harness.load import LoadProcess
from harness.net import free_port, wait_for_port

HTTP_TYPES = ["http_abort", "http_delay", "http_header", "http_status"]
UPSTREAM_APP = Path(__file__).with_name("http_upstream.py")
EDGE = "app->api"


# -- validation -----------------------------------------------------------------------------

def test_the_http_types_are_registered_as_per_request_edge_faults() -> None:
    for name in HTTP_TYPES:
        kind = fault_type(name)
        assert (kind.target_kind, kind.per_request, kind.needs_http_toxics) == ("edge", True, True), name


def test_each_http_type_has_the_stream_it_acts_on_by_default() -> None:
    defaults = {name: ActiveFault.create("f", name, EDGE, MINIMAL[name]).stream for name in HTTP_TYPES}
    assert defaults == {"http_status": "upstream", "http_delay": "upstream", "http_header": "upstream",
                        "http_abort": "downstream"}


def test_the_share_of_requests_is_the_toxicity_not_an_attribute() -> None:
    with pytest.raises(ValidationError, match="set the share of requests with the fault's 'toxicity'"):
        validate_attributes("http_status", {"status": 503, "probability": 0.3})


@pytest.mark.parametrize(("attributes", "message"), [
    ({}, "status"),
    ({"status": 42}, "greater than or equal to 200"),
    ({"status": 600}, "less than or equal to 599"),
    ({"status": 503, "retry_after": -1}, "negative"),
    ({"status": 503, "content_type": "text/plain\r\nX: y"}, "must not contain CR"),
])
def test_http_status_attributes_are_checked(attributes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate_attributes("http_status", attributes)


def test_retry_after_is_whole_seconds_written_as_a_number_or_a_duration() -> None:
    assert validate_attributes("http_status", {"status": 429, "retry_after": "2s"}).model_dump()["retry_after"] == 2
    with pytest.raises(ValidationError, match="not a whole number of seconds"):
        validate_attributes("http_status", {"status": 429, "retry_after": "1500ms"})


def test_http_delay_needs_a_delay_and_takes_durations() -> None:
    with pytest.raises(ValidationError, match="delay"):
        validate_attributes("http_delay", {})
    assert validate_attributes("http_delay", {"delay": "1.5s"}).model_dump() == {"delay": 1500, "jitter": 0}


def test_http_header_cannot_touch_the_fields_that_frame_the_body() -> None:
    with pytest.raises(ValidationError, match="frames the body"):
        validate_attributes("http_header", {"name": "Transfer-Encoding"})
    with pytest.raises(ValidationError, match="pattern"):
        validate_attributes("http_header", {"name": "bad name"})


def test_the_toxics_counters_are_read_for_one_toxic_on_one_proxy() -> None:
    exposition = "\n".join([
        '# TYPE toxiproxy_http_requests_total counter',
        'toxiproxy_http_requests_total{outcome="faulted",proxy="app->api",stream="upstream",toxic="f",type="http_status"} 3',
        'toxiproxy_http_requests_total{outcome="passed",proxy="app->api",stream="upstream",toxic="f",type="http_status"} 7',
        'toxiproxy_http_requests_total{outcome="passed",proxy="other",stream="upstream",toxic="f",type="http_status"} 99',
        '# TYPE toxiproxy_http_passthrough_connections_total counter',
        'toxiproxy_http_passthrough_connections_total{proxy="app->api",reason="not_http",stream="upstream",toxic="f",type="http_status"} 1',
    ]) + "\n"
    assert read_traffic(exposition, "app->api", "f") == {
        "requests": 10, "faulted": 3, "passed": 7, "not_http_connections": 1}


def test_a_stock_server_refusing_the_toxic_type_is_explained() -> None:
    def stock(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "bad request body: invalid toxic type", "status": 400})

    client = ToxiproxyClient(transport=httpx.MockTransport(stock))
    fault = ActiveFault.create("f", "http_status", EDGE, {"status": 503})
    with client, pytest.raises(ToxiproxyError, match="has no 'http_status' toxic: it is a stock server") as caught:
        fault.kind.apply(SimpleFaultContext(client, {EDGE: "p"}), fault)
    assert "make tools" in str(caught.value)


# -- against the real server ------------------------------------------------------------------

MINIMAL: dict[str, dict[str, Any]] = {
    "http_status": {"status": 503}, "http_abort": {}, "http_delay": {"delay": 10}, "http_header": {"name": "X-A"},
}


@pytest.fixture
def ours(toxiproxy: ToxiproxyClient) -> ToxiproxyClient:
    """The shared server, which must be ours: built from toxiproxy/ by `make tools`."""
    version = toxiproxy.version()
    if not has_http_toxics(version):
        message = f"toxiproxy-server {version} is a stock server without HTTP toxics: run `make tools`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return toxiproxy


@pytest.fixture(scope="module")
def http_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("http-upstream") / "upstream.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(UPSTREAM_APP), str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=20.0)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def edge(ours: ToxiproxyClient, http_upstream: str) -> Iterator[tuple[SimpleFaultContext, str]]:
    proxy = ours.create_proxy(EDGE, f"127.0.0.1:{free_port()}", http_upstream)
    yield SimpleFaultContext(ours, {EDGE: proxy.name}), f"http://{proxy.listen}"


def served(http_upstream: str) -> int:
    return int(httpx.get(f"http://{http_upstream}/count", trust_env=False).text)


def apply(ctx: SimpleFaultContext, type: str, attributes: dict[str, Any], toxicity: float = 1.0,
          stream: str | None = None, name: str = "fault") -> ActiveFault:
    fault = ActiveFault.create(name, type, EDGE, attributes, stream, toxicity)  # type: ignore[arg-type]
    fault.kind.apply(ctx, fault)
    return fault


def kept_alive(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, trust_env=False, timeout=10.0,
                        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))


@pytest.mark.integration
def test_every_http_type_is_accepted_by_our_server_with_its_share_as_probability(
    edge: tuple[SimpleFaultContext, str]
) -> None:
    ctx, _ = edge
    for name in HTTP_TYPES:
        fault = apply(ctx, name, MINIMAL[name], toxicity=0.25, name=f"{name}-fault")
        (toxic,) = ctx.toxiproxy.toxics(ctx.proxy_for_edge(EDGE))
        assert (toxic.type, toxic.stream, toxic.toxicity) == (name, fault.stream, 1.0)
        assert toxic.attributes == {**fault.attributes.model_dump(), "probability": 0.25}
        fault.kind.remove(ctx, fault)


@pytest.mark.integration
def test_http_status_answers_a_share_of_httpx_requests_on_one_kept_alive_connection(
    edge: tuple[SimpleFaultContext, str], http_upstream: str
) -> None:
    ctx, url = edge
    before = served(http_upstream)
    fault = apply(ctx, "http_status", {"status": 503, "body": '{"error": "injected"}',
                                        "content_type": "application/json", "retry_after": 1}, toxicity=0.3,
                  name="share")
    statuses: Counter[int] = Counter()
    clients = set()
    with kept_alive(url) as client:
        for n in range(1000):
            response = client.get(f"/item/{n}")
            statuses[response.status_code] += 1
            if response.status_code == 503:
                assert response.json() == {"error": "injected"} and response.headers["retry-after"] == "1"
            else:
                assert response.json()["n"] == n
                clients.add(response.json()["client"])
    fault.kind.remove(ctx, fault)
    share = statuses[503] / 1000  # sd 1.4 points: +-5 is 3.5 sd (10,000 requests, +-2: benchmarks/)
    assert set(statuses) == {200, 503} and 0.25 <= share <= 0.35, statuses
    assert served(http_upstream) - before == statuses[200], "an answered request must not reach the upstream"
    assert len(clients) == 1, f"the upstream saw {len(clients)} connections: answering must keep the connection"
    assert fault.kind.traffic(ctx, fault) == {"requests": 1000, "faulted": statuses[503], "passed": statuses[200],
                                              "not_http_connections": 0}


@pytest.mark.integration
@pytest.mark.full
def test_over_10000_requests_the_share_answered_is_the_toxicity_within_2_points(
    edge: tuple[SimpleFaultContext, str]
) -> None:
    ctx, url = edge
    fault = apply(ctx, "http_status", {"status": 503}, toxicity=0.3, name="share-10000")
    with kept_alive(url) as client:
        answered = sum(client.get(f"/item/{n}").status_code == 503 for n in range(10_000))
    assert abs(answered / 10_000 - 0.3) <= 0.02, answered
    fault.kind.remove(ctx, fault)
    assert fault.kind.traffic(ctx, fault)["faulted"] == answered


@pytest.mark.integration
def test_chunked_and_length_bodies_pass_or_are_answered_without_breaking_the_connection(
    edge: tuple[SimpleFaultContext, str]
) -> None:
    ctx, url = edge
    apply(ctx, "http_status", {"status": 500}, toxicity=0.5)
    statuses: Counter[int] = Counter()
    with kept_alive(url) as client:
        for n in range(200):
            payload = f"part-{n};".encode() * (1 + n % 40)
            content: Any = payload if n % 2 else iter([payload[:7], payload[7:]])  # an iterator goes chunked
            response = client.post("/echo", content=content)
            statuses[response.status_code] += 1
            if response.status_code == 200:
                assert response.content == payload
            streamed = client.get("/stream")  # a chunked answer
            assert streamed.status_code in (200, 500)
            if streamed.status_code == 200:
                assert len(streamed.content) == 100_000
    assert statuses[200] > 50 and statuses[500] > 50 and set(statuses) == {200, 500}, statuses


@pytest.mark.integration
def test_http_status_downstream_lets_the_upstream_do_the_work_and_replaces_its_answer(
    edge: tuple[SimpleFaultContext, str], http_upstream: str
) -> None:
    ctx, url = edge
    before = served(http_upstream)
    apply(ctx, "http_status", {"status": 502, "body": "lost"}, toxicity=0.5, stream="downstream")
    with kept_alive(url) as client:
        statuses = Counter(client.get(f"/item/{n}").status_code for n in range(200))
    assert served(http_upstream) - before == 200
    assert 60 <= statuses[502] <= 140 and statuses[200] + statuses[502] == 200, statuses


@pytest.mark.integration
def test_http_abort_truncates_a_share_of_bodies_and_httpx_sees_it(edge: tuple[SimpleFaultContext, str]) -> None:
    ctx, url = edge
    apply(ctx, "http_abort", {"body_bytes": 1000}, toxicity=0.5)
    outcomes: Counter[str] = Counter()
    for n in range(40):
        path = "/big" if n % 2 else "/stream"
        with kept_alive(url) as client:
            try:
                response = client.get(path)
            except httpx.RemoteProtocolError as exc:
                assert "peer closed connection without sending complete message body" in str(exc)
                outcomes["cut"] += 1
                continue
            assert response.status_code == 200 and len(response.content) == 100_000
            outcomes["complete"] += 1
    assert outcomes["cut"] >= 8 and outcomes["complete"] >= 8, outcomes


@pytest.mark.integration
def test_http_delay_holds_single_requests_of_a_kept_alive_connection(edge: tuple[SimpleFaultContext, str]) -> None:
    ctx, url = edge
    apply(ctx, "http_delay", {"delay": "300ms"}, toxicity=0.25)
    took = []
    with kept_alive(url) as client:
        client.get("/item/0")
        for n in range(40):
            started = time.perf_counter()
            assert client.get(f"/item/{n}").status_code == 200
            took.append(time.perf_counter() - started)
    slow = [t for t in took if t >= 0.29]
    fast = [t for t in took if t < 0.15]
    assert len(slow) + len(fast) == len(took) and len(slow) >= 3 and len(fast) >= 20, took


@pytest.mark.integration
def test_traffic_that_is_not_http_passes_through_and_the_fault_says_so(ours: ToxiproxyClient) -> None:
    echo = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = echo.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    proxy = ours.create_proxy(EDGE, f"127.0.0.1:{free_port()}", f"127.0.0.1:{echo.getsockname()[1]}")
    ctx = SimpleFaultContext(ours, {EDGE: proxy.name})
    fault = apply(ctx, "http_status", {"status": 503}, name="not-http")  # its own counters on the shared server
    message = b"\x16\x03\x01\x00\x05 a TLS-like greeting, not HTTP"
    host, port = proxy.listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(message)
        got = b""
        while len(got) < len(message):
            got += conn.recv(4096)
    echo.close()
    assert got == message
    # Counted when the connection ends without an HTTP message (or when the fault is removed).
    deadline = time.monotonic() + 5
    while fault.kind.traffic(ctx, fault)["not_http_connections"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fault.kind.traffic(ctx, fault) == {"requests": 0, "faulted": 0, "passed": 0, "not_http_connections": 1}


LOCUSTFILE = '''
from locust import FastHttpUser, constant, task


class ItemUser(FastHttpUser):
    wait_time = constant(0.01)

    @task
    def item(self):
        self.client.get("/item/1", name="/item")

    @task
    def stream(self):
        self.client.get("/stream", name="/stream")
'''


@pytest.mark.integration
def test_locust_fast_http_users_meet_a_share_of_503s_on_their_kept_alive_connections(
    edge: tuple[SimpleFaultContext, str], tmp_path: Path
) -> None:
    ctx, url = edge
    apply(ctx, "http_status", {"status": 503}, toxicity=0.5)
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    load = LoadProcess(locustfile=locustfile, host=url, users=4, spawn_rate=4.0, duration=4.0, user_classes=[],
                       seed=1, out_dir=tmp_path / "requests", log_path=tmp_path / "locust.log")
    with load:
        load.wait_started(30.0)
        deadline = time.monotonic() + 40.0
        while load.poll() is None and time.monotonic() < deadline:
            load.drain()
            time.sleep(0.2)
    assert load.poll() == 0, load.log_tail()
    requests = list(read_requests(load.out_dir))
    statuses = Counter(r["status"] for r in requests)
    assert set(statuses) == {200, 503}, f"only answers, never a broken connection: {statuses}"
    share = statuses[503] / len(requests)
    assert len(requests) >= 200 and 0.4 <= share <= 0.6, (len(requests), statuses)
