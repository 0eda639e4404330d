"""The anti-corruption-layer target as real processes: customers -> acl -> legacy (or a stub
legacy that slices, cuts or delays its answer). No Toxiproxy here."""
from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from edge_services import Proc, Procs, free_port

from harness.net import wait_for_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "experiments" / "schemas"
TARGET = "anti-corruption-layer"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def conforms(body: dict, name: str) -> bool:
    try:
        jsonschema.validate(body, schema(name), format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError:
        return False
    return True


class StubLegacy:
    """Answers like legacy.py would, but ``mode`` says how: whole, slices, cut (40 bytes) or slow."""

    def __init__(self, mode: str):
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                line = b""
                while not line.endswith(b"\n"):
                    chunk = self.request.recv(64)
                    if not chunk:
                        return
                    line += chunk
                number = int(line.split()[2])
                answer = (f"RC=00;CUSTNO={number:08d};NM=SMITH, JOHN;OPNDT=20190314;BALCTS=+000123456;"
                          f"STATCD=A;CCY=USD;END\n").encode()
                if outer.mode == "slices":
                    for i in range(0, len(answer), 8):
                        self.request.sendall(answer[i:i + 8])
                        time.sleep(0.005)
                elif outer.mode == "cut":
                    self.request.sendall(answer[:40])
                elif outer.mode == "slow":
                    time.sleep(2.0)
                    self.request.sendall(answer)
                else:
                    self.request.sendall(answer)

        self.mode = mode
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Group:
    """The ACL target's services by script name; every one is stopped after the test."""

    def __init__(self) -> None:
        self.procs = Procs(TARGET)

    def start(self, script: str, **env: str) -> Proc:
        return self.procs.start(f"{script}.py", script, **env)


@pytest.fixture
def group() -> Iterator[Group]:
    g = Group()
    try:
        yield g
    finally:
        g.procs.stop_all()


@pytest.fixture
def stub() -> Iterator[type]:
    made: list[StubLegacy] = []

    def make(mode: str) -> StubLegacy:
        made.append(StubLegacy(mode))
        return made[-1]

    yield make  # type: ignore[misc]
    for s in made:
        s.close()


def acl_and_customers(group: Group, legacy_addr: str, **acl_env: str) -> tuple[Proc, Proc]:
    acl = group.start("acl", LEGACY_ADDR=legacy_addr, **acl_env)
    customers = group.start("customers", ACL_URL=acl.url)
    return acl, customers


def get(url: str, timeout: float = 10.0) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    r = httpx.get(url, timeout=timeout)
    return r, time.monotonic() - began


def test_the_domain_gets_a_translated_customer_through_the_acl(group: Group) -> None:
    legacy = Proc(TARGET, "legacy.py", "legacy")  # raw TCP: no /health, so wait for its port
    try:
        wait_for_port("127.0.0.1", legacy.port, timeout=20.0)
        _, customers = acl_and_customers(group, f"127.0.0.1:{legacy.port}")
        r, _ = get(customers.url + "/customers/123/standing")
        assert r.status_code == 200 and conforms(r.json(), "customer-standing.json"), r.text
        assert r.json()["customer"]["id"] == "123"
        r, _ = get(customers.url + "/customers/7000/standing")
        assert r.status_code == 404 and r.json()["error"]["code"] == "customer_not_found"
    finally:
        legacy.stop()


def test_a_sliced_answer_is_reassembled(group: Group, stub) -> None:
    acl, _ = acl_and_customers(group, stub("slices").addr)
    r, _ = get(acl.url + "/customers/5")
    assert r.status_code == 200 and r.json()["name"] == "John Smith"


def test_a_truncated_answer_becomes_a_clean_domain_error(group: Group, stub) -> None:
    acl, customers = acl_and_customers(group, stub("cut").addr)
    r, _ = get(acl.url + "/customers/5")
    assert r.status_code == 502 and r.json()["reason"] == "truncated"
    r, _ = get(customers.url + "/customers/5/standing")
    assert r.status_code == 503 and conforms(r.json(), "domain-error.json"), r.text


def test_a_slow_legacy_is_cut_at_the_deadline(group: Group, stub) -> None:
    acl, customers = acl_and_customers(group, stub("slow").addr, ACL_LEGACY_TIMEOUT="0.5")
    r, took = get(customers.url + "/customers/5/standing")
    assert r.status_code == 503 and conforms(r.json(), "domain-error.json")
    assert 0.45 <= took < 1.5, took
    assert get(acl.url + "/customers/5")[0].json()["reason"] == "timeout"


def test_an_unreachable_legacy_is_a_clean_domain_error_too(group: Group) -> None:
    acl, customers = acl_and_customers(group, f"127.0.0.1:{free_port()}")
    assert get(acl.url + "/customers/5")[0].json()["reason"] == "unreachable"
    r, _ = get(customers.url + "/customers/5/standing")
    assert r.status_code == 503 and conforms(r.json(), "domain-error.json")


def test_pass_through_lets_a_cut_record_into_the_domain(group: Group, stub) -> None:
    acl, customers = acl_and_customers(group, stub("cut").addr, ACL_VALIDATE="false")
    r, _ = get(acl.url + "/customers/5")
    assert r.status_code == 200 and r.json()["status"] is None  # half a record, passed on as a customer
    r, _ = get(customers.url + "/customers/5/standing")
    assert r.status_code == 200 and not conforms(r.json(), "customer-standing.json")


def test_pass_through_takes_the_first_slice_for_the_record(group: Group, stub) -> None:
    acl, _ = acl_and_customers(group, stub("slices").addr, ACL_VALIDATE="false")
    r, _ = get(acl.url + "/customers/5")
    assert r.status_code == 200 and r.json()["name"] is None


def test_without_a_deadline_the_acl_waits_out_a_slow_legacy(group: Group, stub) -> None:
    _, customers = acl_and_customers(group, stub("slow").addr, ACL_LEGACY_TIMEOUT="0")
    r, took = get(customers.url + "/customers/5/standing")
    assert r.status_code == 200 and took >= 1.9

