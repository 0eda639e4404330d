"""ToxiproxyClient: error translation with a mock transport, then the real server."""
from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from harness.errors import EnvironmentProblem, ToxiproxyError
from harness.faults import Proxy, Toxic, ToxiproxyClient, ToxiproxyRequestError
from harness.net import free_port

BASE = "http://toxiproxy.test"


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> ToxiproxyClient:
    return ToxiproxyClient(BASE, transport=httpx.MockTransport(handler))


def timed_get(url: str) -> float:
    with httpx.Client(trust_env=False, timeout=5.0) as http:
        started = time.perf_counter()
        assert http.get(url).status_code == 200
        return time.perf_counter() - started


# -- without a server ------------------------------------------------------------------------

def test_a_non_2xx_answer_is_a_toxiproxy_error_naming_method_url_status_and_body() -> None:
    client = mock_client(lambda r: httpx.Response(404, json={"error": "proxy not found", "status": 404}))
    with pytest.raises(ToxiproxyRequestError) as caught:
        client.get_proxy("db")
    message = str(caught.value)
    assert message.startswith(f"Toxiproxy GET {BASE}/proxies/db answered 404: ")
    assert "proxy not found" in message
    assert isinstance(caught.value, ToxiproxyError) and isinstance(caught.value, EnvironmentProblem)
    assert (caught.value.status, caught.value.method) == (404, "GET")


def test_a_transport_failure_is_a_toxiproxy_error_chained_to_the_httpx_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ToxiproxyRequestError) as caught:
        mock_client(refuse).version()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.status is None
    assert "ConnectError: Connection refused" in str(caught.value)
    assert "is toxiproxy-server running" in str(caught.value)


def test_an_answer_that_is_not_json_is_a_toxiproxy_error() -> None:
    client = mock_client(lambda r: httpx.Response(200, text="<html>proxy login</html>"))
    with pytest.raises(ToxiproxyError, match="invalid JSON"):
        client.proxies()


def test_every_call_has_a_2s_connect_and_10s_read_timeout() -> None:
    seen: list[dict[str, float]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"version": "2.12.0"})

    assert mock_client(record).version() == "2.12.0"
    assert seen[0]["connect"] == 2.0 and seen[0]["read"] == 10.0


def test_removing_a_toxic_waits_only_its_own_bounded_timeout() -> None:
    seen: list[dict[str, float]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(204)

    mock_client(record).remove_toxic("db", "slow", timeout=3.0)
    assert seen[0]["read"] == 3.0


@pytest.mark.parametrize("failure", ["timeout", "503"])
def test_a_stuck_toxic_removal_names_issue_558_and_says_to_reset(failure: str) -> None:
    def stuck(request: httpx.Request) -> httpx.Response:
        if failure == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(503, text="")

    with pytest.raises(ToxiproxyError) as caught:
        mock_client(stuck).remove_toxic("db", "slow")
    message = str(caught.value)
    assert "could not remove toxic 'slow' from proxy 'db' (waited up to 5s)" in message
    assert "issue #558" in message and "reset()" in message


def test_a_name_with_special_characters_stays_one_path_segment() -> None:
    paths: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(204)

    mock_client(record).remove_toxic("orders->payments", "a/b")
    assert paths == ["/proxies/orders-%3Epayments/toxics/a%2Fb"]


def test_wait_ready_gives_up_after_its_timeout_when_nothing_listens() -> None:
    with ToxiproxyClient(f"http://127.0.0.1:{free_port()}") as client:
        started = time.monotonic()
        with pytest.raises(ToxiproxyError, match=r"did not answer within 0.3s .*Connection refused"):
            client.wait_ready(timeout=0.3)
    assert time.monotonic() - started < 3


# -- against the real toxiproxy-server -----------------------------------------------------------

@pytest.mark.integration
def test_the_real_server_reports_its_version(toxiproxy: ToxiproxyClient) -> None:
    assert toxiproxy.version().removesuffix("+harness") == "2.12.0"  # ours, or a stock server


@pytest.mark.integration
def test_a_created_proxy_is_listed_and_forwards_traffic(toxiproxy: ToxiproxyClient, edge_proxy: Proxy) -> None:
    assert edge_proxy.enabled and edge_proxy.toxics == ()
    assert toxiproxy.proxies() == {"orders->payments": edge_proxy}
    assert toxiproxy.get_proxy("orders->payments") == edge_proxy
    assert timed_get(f"http://{edge_proxy.listen}/") < 1.0


@pytest.mark.integration
def test_a_latency_toxic_really_delays_requests_until_removed(toxiproxy: ToxiproxyClient, edge_proxy: Proxy) -> None:
    url = f"http://{edge_proxy.listen}/"
    toxic = toxiproxy.add_toxic(edge_proxy.name, "slow", "latency", {"latency": 300})
    assert toxic == Toxic("slow", "latency", "downstream", 1.0, {"latency": 300, "jitter": 0})
    assert timed_get(url) >= 0.25

    toxiproxy.remove_toxic(edge_proxy.name, "slow")
    assert toxiproxy.toxics(edge_proxy.name) == []
    assert timed_get(url) < 0.2


@pytest.mark.integration
def test_updating_a_toxic_changes_its_attributes_and_keeps_the_others(
    toxiproxy: ToxiproxyClient, edge_proxy: Proxy
) -> None:
    toxiproxy.add_toxic(edge_proxy.name, "slow", "latency", {"latency": 50, "jitter": 10}, toxicity=0.5)
    updated = toxiproxy.update_toxic(edge_proxy.name, "slow", {"latency": 400}, toxicity=1.0)
    assert updated.attributes == {"latency": 400, "jitter": 10}
    assert updated.toxicity == 1.0
    assert timed_get(f"http://{edge_proxy.listen}/") >= 0.3


@pytest.mark.integration
def test_a_disabled_proxy_refuses_connections_until_enabled_again(
    toxiproxy: ToxiproxyClient, edge_proxy: Proxy
) -> None:
    assert toxiproxy.set_enabled(edge_proxy.name, False).enabled is False
    with pytest.raises(httpx.ConnectError):
        timed_get(f"http://{edge_proxy.listen}/")
    assert toxiproxy.set_enabled(edge_proxy.name, True).enabled is True
    assert timed_get(f"http://{edge_proxy.listen}/") < 1.0


@pytest.mark.integration
def test_reset_removes_every_toxic_and_enables_every_proxy(toxiproxy: ToxiproxyClient, edge_proxy: Proxy) -> None:
    toxiproxy.add_toxic(edge_proxy.name, "slow", "latency", {"latency": 1000})
    toxiproxy.add_toxic(edge_proxy.name, "cut", "limit_data", {"bytes": 10}, stream="upstream")
    toxiproxy.set_enabled(edge_proxy.name, False)

    toxiproxy.reset()

    proxy = toxiproxy.get_proxy(edge_proxy.name)
    assert proxy.enabled and proxy.toxics == ()
    assert timed_get(f"http://{edge_proxy.listen}/") < 0.5


@pytest.mark.integration
def test_a_missing_proxy_is_a_toxiproxy_error_with_status_404(toxiproxy: ToxiproxyClient) -> None:
    not_found = r"GET http://127\.0\.0\.1:\d+/proxies/nope answered 404: .*proxy not found"
    with pytest.raises(ToxiproxyError, match=not_found):
        toxiproxy.get_proxy("nope")


@pytest.mark.integration
def test_creating_a_proxy_twice_is_a_409_error(toxiproxy: ToxiproxyClient, edge_proxy: Proxy) -> None:
    with pytest.raises(ToxiproxyRequestError, match="answered 409: .*proxy already exists") as caught:
        toxiproxy.create_proxy(edge_proxy.name, "127.0.0.1:0", edge_proxy.upstream)
    assert caught.value.status == 409


@pytest.mark.integration
def test_an_unknown_toxic_type_is_refused_by_the_server_with_400(toxiproxy: ToxiproxyClient, edge_proxy: Proxy) -> None:
    with pytest.raises(ToxiproxyError, match="answered 400: .*invalid toxic type"):
        toxiproxy.add_toxic(edge_proxy.name, "x", "latncy", {})


@pytest.mark.integration
def test_removing_a_missing_toxic_is_a_404_not_a_stuck_removal(toxiproxy: ToxiproxyClient, edge_proxy: Proxy) -> None:
    with pytest.raises(ToxiproxyError, match="answered 404: .*toxic not found") as caught:
        toxiproxy.remove_toxic(edge_proxy.name, "nope")
    assert "#558" not in str(caught.value)
