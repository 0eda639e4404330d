"""The Chaos API of ``harness ui`` over real HTTP, with a recording Toxiproxy: bad input is a 400 with the
message an experiment file would get, and nothing is applied; good input is applied, journaled, removed."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_run import FakeToxiproxy
from harness.errors import InputError
from harness.events import RunEvents
from harness.experiment import ExperimentSpec, load_experiment
from harness.faults import FAULT_TYPES
from harness.faults.timeline import FaultTimeline
from harness.journal import JournalWriter
from harness.ui.control import Commands, ControlServer
from harness.ui.session import ChaosSession

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "circuit-breaker.yaml"
EDGE = "orders->payments"


@dataclass
class FakeContext:
    """What a fault type touches: a Toxiproxy that records, and the edge's proxy name."""

    toxiproxy: FakeToxiproxy = field(default_factory=FakeToxiproxy)

    def proxy_for_edge(self, edge: str) -> str:
        return f"proxy:{edge}"

    def version(self) -> str:
        return "2.12.0"


@dataclass
class Api:
    client: httpx.Client
    ctx: FakeContext
    journal: JournalWriter
    chaos: ChaosSession

    def kinds(self) -> list[str]:
        return [r["kind"] for r in self.journal.records]


@pytest.fixture(scope="module")
def experiment() -> ExperimentSpec:
    return load_experiment(EXPERIMENT)


@pytest.fixture
def api(experiment: ExperimentSpec, tmp_path: Path) -> Iterator[Api]:
    ctx = FakeContext()
    journal = JournalWriter(tmp_path / "journal.jsonl")
    chaos = ChaosSession(experiment, "test")
    timeline = FaultTimeline(experiment, ctx, journal, RunEvents())  # type: ignore[arg-type]
    chaos.attach(timeline, journal, ctx)  # type: ignore[arg-type]
    timeline.begin(time.time())
    commands = Commands()
    server = ControlServer(chaos, commands)
    server.start()
    done = threading.Event()

    def main_loop() -> None:  # the session's loop: commands run here, as in run_session
        while not done.is_set():
            commands.run_pending()
            chaos.collect_events()
            time.sleep(0.01)

    loop = threading.Thread(target=main_loop, daemon=True)
    loop.start()
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        yield Api(client, ctx, journal, chaos)
    done.set()
    loop.join()
    server.stop()
    journal.close()


def file_messages(tmp_path: Path, fault: dict[str, Any]) -> list[str]:
    """What `harness validate` says about the same fault in an experiment file (the field path included)."""
    doc = {"name": "probe", "system": str(ROOT / "targets" / "circuit-breaker" / "system.yaml"),
           "load": {"duration": "30s"}, "faults": [{"start": "1s", **fault}]}
    path = tmp_path / "probe.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    with pytest.raises(InputError) as caught:
        load_experiment(path)
    out = []
    for p in caught.value.problems:
        field = "" if p.path == "faults[0]" else p.path.removeprefix("faults[0].")
        out.append(f"{field}: {p.message}" if field else p.message)
    return out


BAD = {
    "unknown edge": {"type": "latency", "edge": "orders->nowhere", "attributes": {"latency": 500}},
    "unknown attribute": {"type": "latency", "edge": EDGE, "attributes": {"latncy": 500}},
    "bad attribute value": {"type": "latency", "edge": EDGE, "attributes": {"latency": "fast"}},
    "negative attribute": {"type": "latency", "edge": EDGE, "attributes": {"latency": -5}},
    "unknown fault type": {"type": "latencyy", "edge": EDGE},
    "service fault on an edge": {"type": "kill", "edge": EDGE},
    "unknown envelope field": {"type": "latency", "edge": EDGE, "atributes": {}},
    "toxicity out of range": {"type": "latency", "edge": EDGE, "toxicity": 2},
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_fault_is_400_with_the_experiment_files_message_and_nothing_applied(api: Api, tmp_path: Path, case: str) -> None:
    fault = BAD[case]
    answer = api.client.post("/chaos/faults", json=fault)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error.startswith("POST /chaos/faults: ")
    for message in file_messages(tmp_path, fault):
        assert message in error, f"{message!r} (from an experiment file) not in {error!r}"
    assert api.ctx.toxiproxy.calls == [] and api.ctx.toxiproxy.toxics == {}
    assert api.client.get("/chaos/faults").json() == []
    assert "fault_applied" not in api.kinds()


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"latency"'])
def test_a_body_that_is_not_a_fault_object_is_400(api: Api, body: bytes) -> None:
    answer = api.client.post("/chaos/faults", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]
    assert api.ctx.toxiproxy.calls == []


def test_a_fault_is_applied_journaled_with_who_and_removed(api: Api) -> None:
    answer = api.client.post("/chaos/faults", json={"name": "slow", "type": "latency", "edge": EDGE,
                                                     "attributes": {"latency": "800ms"}}, headers={"X-Chaos-Client": "ui"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["attributes"] == {"latency": 800, "jitter": 0}
    assert api.ctx.toxiproxy.toxics == {"slow": f"proxy:{EDGE}"}
    assert [f["name"] for f in api.client.get("/chaos/faults").json()] == ["slow"]
    applied = [r for r in api.journal.records if r["kind"] == "fault_applied"]
    assert applied and applied[0]["by"] == "ui" and applied[0]["target"] == EDGE

    again = api.client.post("/chaos/faults", json={"name": "slow", "type": "latency", "edge": EDGE})
    assert again.status_code == 400 and "'slow'" in again.json()["error"]

    assert api.client.delete("/chaos/faults/slow").status_code == 200
    assert api.ctx.toxiproxy.toxics == {}
    assert api.client.get("/chaos/faults").json() == []
    assert api.client.delete("/chaos/faults/slow").status_code == 404
    events = api.client.get("/chaos/events", params={"since": 0}).json()
    assert [e["kind"] for e in events] == ["fault_applied", "fault_removed"]
    later = api.client.get("/chaos/events", params={"since": events[0]["t"]}).json()
    assert [e["kind"] for e in later] == ["fault_removed"]


def test_unnamed_faults_get_distinct_names(api: Api) -> None:
    names = [api.client.post("/chaos/faults", json={"type": "latency", "edge": EDGE}).json()["name"] for _ in range(2)]
    assert len(set(names)) == 2 and all(n.startswith("latency-") for n in names)


def test_system_lists_services_edges_and_every_fault_type_with_its_schema(api: Api) -> None:
    system = api.client.get("/chaos/system").json()
    assert system["edges"] == [EDGE] and set(system["services"]) == {"orders", "payments"}
    types = {t["name"]: t for t in system["fault_types"]}
    assert set(types) == set(FAULT_TYPES.builtin_names())  # this system has no plugins; none leak in from other tests
    assert "latency" in types["latency"]["attributes"]["properties"]
    assert types["kill"]["target_kind"] == "service"
    assert [f["name"] for f in system["timeline"]] == ["payments-slow"]


def test_the_experiments_timeline_starts_once(api: Api) -> None:
    assert api.ctx.toxiproxy.toxics == {}
    first = api.client.post("/chaos/timeline")
    assert first.status_code == 200 and [f["name"] for f in first.json()["started"]] == ["payments-slow"]
    assert api.client.post("/chaos/timeline").status_code == 409
    assert "timeline_started" in api.kinds()


def test_stop_ends_the_session(api: Api) -> None:
    assert api.client.post("/chaos/stop").status_code == 202
    assert api.chaos.stop.is_set()


def test_unknown_route_and_bad_since(api: Api) -> None:
    assert api.client.get("/chaos/nothing").status_code == 404
    assert api.client.get("/chaos/events", params={"since": "yesterday"}).status_code == 400
