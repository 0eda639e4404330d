"""LoadProcess: Locust in a subprocess against a real HTTP target, records read back raw."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness.load
from harness.data import ChunkWriter, read_requests
from harness.errors import EnvironmentProblem
from harness.load import LoadProcess, Record
from harness.net import free_port, wait_for_port

TARGET_APP = Path(__file__).with_name("target_app.py")

LOCUSTFILE = '''
from locust import FastHttpUser, constant, task


class QuickUser(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def ok(self):
        self.client.get("/ok", name="/ok")

    @task
    def fail(self):
        self.client.get("/fail", name="/fail")


class SlowUser(FastHttpUser):
    wait_time = constant(0.05)
    network_timeout = 0.5  # /slow answers after 2 s: every request times out

    @task
    def slow(self):
        self.client.get("/slow", name="/slow")
'''

# Generous: a noisy 2-core machine, and Locust takes about a second to import.
START_TIMEOUT = 30.0
EXIT_GRACE = 30.0


# --- fixtures -------------------------------------------------------------------------------


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


@pytest.fixture(scope="module")
def locustfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("locust") / "locustfile.py"
    path.write_text(LOCUSTFILE)
    return path


def make_load(workdir: Path, locustfile: Path, host: str, *, duration: float,
              user_classes: list[str] | None = None) -> LoadProcess:
    return LoadProcess(
        locustfile=locustfile, host=host, users=5, spawn_rate=5.0, duration=duration,
        user_classes=user_classes or [], seed=1, out_dir=workdir / "requests", log_path=workdir / "locust.log",
    )


def run_to_end(load: LoadProcess) -> list[Record]:
    """Start, wait for the natural end while draining as the engine would, drain the rest.

    Returns the control records with the requests (read from the request folder) between them.
    """
    control: list[Record] = []
    with load:
        load.wait_started(START_TIMEOUT)
        deadline = time.monotonic() + load.duration + EXIT_GRACE
        while load.poll() is None:
            assert time.monotonic() < deadline, f"Locust ran past its duration; log:\n{load.log_tail()}"
            control += load.drain()
            time.sleep(0.2)
    control += load.drain()
    assert load.poll() == 0, load.log_tail()
    requests = list(read_requests(load.out_dir))
    assert load.requests == len(requests)
    return [control[0], *requests, *control[1:]]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, locustfile: Path, target_url: str) -> list[Record]:
    return run_to_end(make_load(tmp_path_factory.mktemp("run"), locustfile, target_url, duration=4.0))


def requests_named(records: list[Record], name: str) -> list[Record]:
    return [r for r in records if r["kind"] == "request" and r["name"] == name]


# --- without Locust -------------------------------------------------------------------------


def test_package_exports_only_the_load_process() -> None:
    assert harness.load.__all__ == ["LoadProcess", "Record"]


def test_importing_the_load_package_leaves_locust_and_gevent_out() -> None:
    code = "import sys, harness.load; print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_drain_counts_request_chunks_and_keeps_a_cut_last_chunk_for_the_next_call(tmp_path: Path) -> None:
    load = make_load(tmp_path, tmp_path / "unused.py", "http://127.0.0.1:9", duration=1.0)
    assert load.drain() == []  # the file does not exist yet
    scratch = tmp_path / "scratch.hreq"
    w = ChunkWriter(scratch)
    w.record({"kind": "load_started", "t": 1.0})
    w.add(1.5, 3.0, 0, 200, 2, "/ok", "GET", None)
    w.add(1.6, 9.0, 1, 500, 2, "/fail", "GET", "HTTPError: 500")
    w.flush()
    w.close()
    data = scratch.read_bytes()
    load.out_dir.mkdir(parents=True, exist_ok=True)
    load.out_path.write_bytes(data[:-5])  # the request chunk is cut: a writer still writing it
    assert load.drain() == [{"kind": "load_started", "t": 1.0}]
    assert (load.requests, load.failures) == (0, 0)
    load.out_path.write_bytes(data)
    assert load.drain() == []
    assert (load.requests, load.failures) == (2, 1)


# --- with Locust ----------------------------------------------------------------------------


@pytest.mark.integration
def test_every_task_has_request_records(finished_run: list[Record]) -> None:
    for name in ("/ok", "/fail", "/slow"):
        assert requests_named(finished_run, name), f"no request records for {name}"


@pytest.mark.integration
def test_server_errors_are_failures_with_their_status(finished_run: list[Record]) -> None:
    fails = requests_named(finished_run, "/fail")
    assert {(r["outcome"], r["status"]) for r in fails} == {("fail", 500)}
    assert all("500" in r["error"] for r in fails)
    assert {(r["outcome"], r["status"], r["error"]) for r in requests_named(finished_run, "/ok")} == {("ok", 200, None)}


@pytest.mark.integration
def test_timed_out_requests_are_indeterminate(finished_run: list[Record]) -> None:
    slow = requests_named(finished_run, "/slow")
    assert {r["outcome"] for r in slow} == {"info"}
    assert all(r["status"] is None and "timed out" in r["error"] for r in slow)
    assert all(450 <= r["ms"] < 2000 for r in slow), [r["ms"] for r in slow]


@pytest.mark.integration
def test_response_times_are_raw_not_rounded(finished_run: list[Record]) -> None:
    ms = [r["ms"] for r in finished_run if r["kind"] == "request"]
    assert all(isinstance(m, float) for m in ms)
    assert not all(m % 10 == 0 for m in ms)
    assert any(not m.is_integer() for m in ms)


@pytest.mark.integration
def test_load_started_comes_first_and_load_stopped_last(finished_run: list[Record]) -> None:
    kinds = [r["kind"] for r in finished_run]
    assert kinds[0] == "load_started" and kinds[-1] == "load_stopped"
    assert set(kinds[1:-1]) == {"request"}
    started, stopped = finished_run[0], finished_run[-1]
    assert (started["users"], started["spawn_rate"]) == (5, 5.0)
    assert 3.5 <= stopped["t"] - started["t"] <= 4.0 + EXIT_GRACE
    assert all(started["t"] <= r["t"] <= stopped["t"] for r in finished_run[1:-1])


@pytest.mark.integration
def test_user_class_option_runs_only_the_named_classes(
    tmp_path: Path, locustfile: Path, target_url: str
) -> None:
    records = run_to_end(make_load(tmp_path, locustfile, target_url, duration=1.5, user_classes=["QuickUser"]))
    names = {r["name"] for r in records if r["kind"] == "request"}
    assert names == {"/ok", "/fail"}


@pytest.mark.integration
def test_stop_mid_run_ends_cleanly_and_leaves_no_process(
    tmp_path: Path, locustfile: Path, target_url: str
) -> None:
    load = make_load(tmp_path, locustfile, target_url, duration=300.0)
    load.start()
    try:
        load.wait_started(START_TIMEOUT)
        time.sleep(1.0)
    finally:
        begun = time.monotonic()
        code = load.stop(timeout=15.0)
    assert code == 0, load.log_tail()
    assert time.monotonic() - begun < 15.0
    assert load.stop() == 0  # idempotent
    assert load.pid is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(load.pid, 0)
    records = load.drain()
    assert [r["kind"] for r in records] == ["load_started", "load_stopped"]
    assert load.requests > 0 and len(read_requests(load.out_dir)) == load.requests


@pytest.mark.integration
def test_unknown_user_class_is_named_by_wait_started(tmp_path: Path, locustfile: Path, target_url: str) -> None:
    load = make_load(tmp_path, locustfile, target_url, duration=5.0, user_classes=["QuickUser", "Nope"])
    with load, pytest.raises(EnvironmentProblem) as caught:
        load.wait_started(START_TIMEOUT)
    message = str(caught.value)
    assert "exited with code 2 before load started" in message
    assert "unknown user class 'Nope'" in message
    assert "found: QuickUser, SlowUser" in message
    assert str(load.log_path) in message
