"""Opt-in response-body recording: ``--record-bodies N`` puts each answer's first N bytes on its record."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.data import read_requests
from harness.load import LoadProcess, Record
from harness.net import free_port, wait_for_port

TARGET_APP = Path(__file__).with_name("target_app.py")

LOCUSTFILE = '''
from locust import FastHttpUser, constant, task


class BodyUser(FastHttpUser):
    wait_time = constant(0.05)
    network_timeout = 0.5  # /slow answers after 2 s: no answer, so no body

    @task
    def ok(self):
        self.client.get("/ok", name="/ok")

    @task
    def fail(self):
        self.client.get("/fail", name="/fail")

    @task
    def slow(self):
        self.client.get("/slow", name="/slow")
'''


def make_load(tmp_path: Path, host: str, record_bodies: int = 0) -> LoadProcess:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    return LoadProcess(locustfile=locustfile, host=host, users=2, spawn_rate=2.0, duration=2.5, user_classes=[],
                       seed=1, out_dir=tmp_path / "requests", log_path=tmp_path / "locust.log",
                       record_bodies=record_bodies)


# --- without Locust -------------------------------------------------------------------------


def test_the_command_asks_for_bodies_only_when_recording_is_on(tmp_path: Path) -> None:
    assert "--record-bodies" not in make_load(tmp_path, "http://127.0.0.1:9").command()
    cmd = make_load(tmp_path, "http://127.0.0.1:9", record_bodies=512).command()
    assert cmd[cmd.index("--record-bodies") + 1] == "512"


def test_a_negative_body_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="record_bodies must be >= 0"):
        make_load(tmp_path, "http://127.0.0.1:9", record_bodies=-1)


BODY_FIELDS_PROBE = r'''
import json
from harness.load.locust_process import body_fields

def shown(found):
    return None if found is None else [found[0].decode("utf-8"), found[1]]

class R:
    def __init__(self, content): self._c = content
    @property
    def content(self):
        if isinstance(self._c, Exception): raise self._c
        return self._c

cases = {
    "short": shown(body_fields(R(b'{"a":1}'), 100)),
    "cut": shown(body_fields(R(b"abcdef"), 4)),
    "exact": shown(body_fields(R(b"abcd"), 4)),
    "multibyte_cut": shown(body_fields(R("h\u00e9llo".encode()), 2)),
    "text": shown(body_fields(R("plain"), 100)),
    "none": shown(body_fields(R(None), 100)),
    "raises": shown(body_fields(R(OSError("reset")), 100)),
}
print(json.dumps(cases))
'''


def test_body_fields_cut_flag_and_skip_what_is_not_a_body() -> None:
    out = subprocess.run([sys.executable, "-c", BODY_FIELDS_PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cases = json.loads(out.stdout)
    assert cases["short"] == ['{"a":1}', False]
    assert cases["cut"] == ["abcd", True]
    assert cases["exact"] == ["abcd", False]
    assert cases["multibyte_cut"] == ["h\ufffd", True]
    assert cases["text"] == ["plain", False]
    assert cases["none"] is None and cases["raises"] is None


# --- with Locust ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def target_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("target") / "target.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(TARGET_APP), str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=20.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_to_end(load: LoadProcess) -> list[Record]:
    with load:
        load.wait_started(30.0)
        deadline = time.monotonic() + load.duration + 30.0
        while load.poll() is None:
            assert time.monotonic() < deadline, load.log_tail()
            load.drain()
            time.sleep(0.2)
    load.drain()
    assert load.poll() == 0, load.log_tail()
    return list(read_requests(load.out_dir))


@pytest.mark.integration
def test_bodies_are_recorded_cut_at_the_limit_and_flagged(tmp_path: Path, target_url: str) -> None:
    requests = run_to_end(make_load(tmp_path, target_url, record_bodies=3))
    by_name: dict[str, list[Record]] = {}
    for r in requests:
        by_name.setdefault(r["name"], []).append(r)
    assert {(r["body"], r.get("body_truncated")) for r in by_name["/ok"]} == {("ok", None)}
    assert {(r["body"], r.get("body_truncated")) for r in by_name["/fail"]} == {("boo", True)}
    # A request that timed out has no answer, so no body.
    assert by_name["/slow"] and all("body" not in r for r in by_name["/slow"])


@pytest.mark.integration
def test_no_body_is_recorded_by_default(tmp_path: Path, target_url: str) -> None:
    requests = run_to_end(make_load(tmp_path, target_url))
    assert requests and all("body" not in r and "body_truncated" not in r for r in requests)
