"""A stock toxiproxy-server has no HTTP toxics: HTTP faults are refused as early as the server is
known, and what an HTTP fault saw lands in the journal (a fault that could not bite shows)."""
from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.cli import main
from harness.errors import EnvironmentProblem, InputError, ToxiproxyError
from harness.events import RunEvents
from harness.experiment import ExperimentSpec, load_experiment
from harness.faults import ActiveFault, SimpleFaultContext, ToxiproxyClient, ToxiproxyServer
from harness.faults.capabilities import binary_version, has_http_toxics
from harness.faults.timeline import FaultTimeline
from harness.journal import JournalWriter
from harness.net import free_port

ROOT = Path(__file__).resolve().parents[2]

MANIFEST = """\
name: shop
locustfile: locustfile.py
entry: front
services:
  back: {command: ["{python}", "back.py"]}
  front:
    command: ["{python}", "front.py"]
    upstreams: [{service: back, env: BACK_URL}]
"""

EXPERIMENT = """\
name: shop-503
system: system.yaml
load: {users: 2, duration: 30s}
faults:
  - name: back-503
    type: http_status
    edge: front->back
    attributes: {status: 503}
    toxicity: 0.5
    start: 5s
    duration: 5s
"""


@pytest.fixture
def experiment_file(tmp_path: Path) -> Path:
    (tmp_path / "system.yaml").write_text(MANIFEST)
    (tmp_path / "locustfile.py").write_text("# empty\n")
    path = tmp_path / "experiment.yaml"
    path.write_text(EXPERIMENT)
    return path


def fake_server(directory: Path, version: str) -> Path:
    path = directory / "toxiproxy-server"
    path.write_text(f"#!/bin/sh\necho 'toxiproxy-server version {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_our_version_suffix_tells_our_server_from_a_stock_one() -> None:
    assert has_http_toxics("2.12.0+harness") and not has_http_toxics("2.12.0") and not has_http_toxics("git")


def test_the_version_of_a_binary_is_what_it_prints(tmp_path: Path) -> None:
    assert binary_version(fake_server(tmp_path, "2.12.0+harness")) == "2.12.0+harness"
    assert binary_version(tmp_path / "missing") == ""


def test_an_http_fault_is_invalid_when_harness_toxiproxy_server_names_a_stock_server(
    experiment_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock = fake_server(tmp_path, "2.12.0")
    monkeypatch.setenv("HARNESS_TOXIPROXY_SERVER", str(stock))
    with pytest.raises(InputError) as caught:
        load_experiment(experiment_file)
    message = caught.value.render()
    assert f"{experiment_file}:6: faults[0].type: fault type 'http_status' cannot run here: " in message
    assert f"HARNESS_TOXIPROXY_SERVER={stock} is a stock toxiproxy-server (version 2.12.0)" in message
    assert "make tools" in message


def test_an_http_fault_is_valid_with_our_server_named_or_none_named(
    experiment_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_TOXIPROXY_SERVER", raising=False)
    exp = load_experiment(experiment_file)
    assert (exp.faults[0].stream, exp.faults[0].toxicity) == ("upstream", 0.5)  # the type's default stream
    monkeypatch.setenv("HARNESS_TOXIPROXY_SERVER", str(fake_server(tmp_path, "2.12.0+harness")))
    load_experiment(experiment_file)


class FakeToxiproxy:
    """The few API calls a timeline makes, answered as a server of the given version would."""

    def __init__(self, version: str):
        self.version = version
        self.metrics = ""
        self.calls: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if request.url.path == "/version":
            return httpx.Response(200, json={"version": self.version})
        if request.url.path == "/metrics":
            return httpx.Response(200, text=self.metrics)
        if request.method == "POST":
            body = json.loads(request.content)
            return httpx.Response(200, json={**body})
        return httpx.Response(204)


class FakeDeployment:
    def __init__(self, server: FakeToxiproxy):
        self.toxiproxy = ToxiproxyClient(transport=httpx.MockTransport(server.handle))

    def proxy_for_edge(self, edge: str) -> str:
        return edge


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[JournalWriter]:
    writer = JournalWriter(tmp_path / "journal.jsonl")
    yield writer
    writer.close()


def timeline(experiment_file: Path, server: FakeToxiproxy, journal: JournalWriter) -> FaultTimeline:
    exp: ExperimentSpec = load_experiment(experiment_file)
    return FaultTimeline(exp, FakeDeployment(server), journal, RunEvents())  # type: ignore[arg-type]


def test_a_run_whose_toxiproxy_server_is_stock_is_refused_before_any_fault(
    experiment_file: Path, journal: JournalWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_TOXIPROXY_SERVER", raising=False)
    with pytest.raises(EnvironmentProblem) as caught:
        timeline(experiment_file, FakeToxiproxy("2.12.0"), journal)
    message = str(caught.value)
    assert "fault(s) back-503 need HTTP toxics, but this run's toxiproxy-server" in message
    assert "version 2.12.0) is a stock one" in message and "make tools" in message


def counters(requests: dict[str, int], not_http: int) -> str:
    labels = 'proxy="front->back",stream="upstream",toxic="back-503",type="http_status"'
    lines = [f'toxiproxy_http_requests_total{{outcome="{o}",{labels}}} {n}' for o, n in requests.items()]
    lines.append(f'toxiproxy_http_passthrough_connections_total{{reason="not_http",{labels}}} {not_http}')
    return "\n".join(lines) + "\n"


def journal_of(journal: JournalWriter) -> list[dict[str, Any]]:
    journal.close()
    return [json.loads(line) for line in journal.path.read_text().splitlines()]


def test_the_journal_gets_what_an_http_fault_saw_since_it_was_applied(
    experiment_file: Path, journal: JournalWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_TOXIPROXY_SERVER", raising=False)
    server = FakeToxiproxy("2.12.0+harness")
    server.metrics = counters({"faulted": 5, "passed": 5}, 0)  # an earlier toxic of the same name (Compose)
    tl = timeline(experiment_file, server, journal)
    tl.begin(0.0)
    tl.tick(6.0)
    server.metrics = counters({"faulted": 45, "passed": 55}, 0)
    tl.tick(11.0)
    records = journal_of(journal)
    (traffic,) = [r for r in records if r["kind"] == "fault_traffic"]
    assert {k: traffic[k] for k in ("fault", "requests", "faulted", "passed", "not_http_connections")} == {
        "fault": "back-503", "requests": 90, "faulted": 40, "passed": 50, "not_http_connections": 0}
    assert not [r for r in records if r["kind"] == "fault_error"]
    assert server.calls == ["GET /version", "GET /metrics", "POST /proxies/front->back/toxics",
                            "DELETE /proxies/front->back/toxics/back-503", "GET /metrics"]


def test_traffic_that_is_not_http_is_a_clear_error_in_the_journal(
    experiment_file: Path, journal: JournalWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_TOXIPROXY_SERVER", raising=False)
    server = FakeToxiproxy("2.12.0+harness")
    tl = timeline(experiment_file, server, journal)
    notices: list[str] = []
    tl.events.notice.add_listener(lambda message: notices.append(message))
    tl.begin(0.0)
    tl.tick(6.0)
    server.metrics = counters({"faulted": 0, "passed": 0}, 3)
    tl.tick(11.0)
    (error,) = [r for r in journal_of(journal) if r["kind"] == "fault_error"]
    assert (error["fault"], error["action"]) == ("back-503", "traffic")
    assert error["error"].startswith("3 connection(s) on front->back were not HTTP/1.x: http_status passed")
    assert notices == [f"fault back-503: {error['error']}"]


def stock_on_path() -> Path:
    found = shutil.which("toxiproxy-server")
    if not found or not binary_version(Path(found)) or has_http_toxics(binary_version(Path(found))):
        pytest.skip("no stock toxiproxy-server on PATH (the fake one above stands in for it)")
    return Path(found)


@pytest.mark.integration
def test_a_real_stock_server_refuses_an_http_fault_and_the_error_says_what_to_do(tmp_path: Path) -> None:
    with ToxiproxyServer(tmp_path / "stock.log", binary=stock_on_path()) as server:
        proxy = server.client.create_proxy("a->b", f"127.0.0.1:{free_port()}", "127.0.0.1:9")
        fault = ActiveFault.create("f", "http_status", "a->b", {"status": 503})
        with pytest.raises(ToxiproxyError, match="has no 'http_status' toxic: it is a stock server") as caught:
            fault.kind.apply(SimpleFaultContext(server.client, {"a->b": proxy.name}), fault)
    assert "make tools" in str(caught.value)


def test_harness_validate_refuses_an_http_experiment_for_a_named_stock_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_TOXIPROXY_SERVER", str(fake_server(tmp_path, "2.12.0")))
    assert main(["validate", str(ROOT / "experiments" / "circuit-breaker-500.yaml")]) == 2
    err = capsys.readouterr().err
    assert "faults[0].type: fault type 'http_status' cannot run here" in err and "make tools" in err
    assert main(["validate", str(ROOT / "experiments" / "circuit-breaker.yaml")]) == 0  # TCP faults still run
