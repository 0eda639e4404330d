"""Locust's master and workers (``LoadProcess(workers=N)``): every worker's requests reach the run's
request folder exactly once, and their number is Locust's own total (the master's aggregate)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.data import read_requests
from harness.load import LoadProcess, Record

import test_load_process as single

pytestmark = pytest.mark.integration

LOCUSTFILE = '''
from locust import FastHttpUser, constant, task


class QuickUser(FastHttpUser):
    wait_time = constant(0.02)

    @task(3)
    def ok(self):
        self.client.get("/ok", name="/ok")

    @task
    def fail(self):
        self.client.get("/fail", name="/fail")
'''

target_url = single.target_url


@pytest.fixture(scope="module")
def locustfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("locust") / "locustfile.py"
    path.write_text(LOCUSTFILE)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, locustfile: Path, target_url: str) -> Iterator[tuple[LoadProcess, list[Record]]]:
    workdir = tmp_path_factory.mktemp("workers")
    load = LoadProcess(locustfile=locustfile, host=target_url, users=6, spawn_rate=6.0, duration=4.0, user_classes=[],
                       seed=1, out_dir=workdir / "requests", log_path=workdir / "locust.log", workers=2)
    control: list[Record] = []
    with load:
        load.wait_started(60.0)
        deadline = time.monotonic() + 60.0
        while load.poll() is None:
            assert time.monotonic() < deadline, load.log_tail()
            control += load.drain()
            time.sleep(0.2)
    control += load.drain()
    assert load.poll() == 0, load.log_tail()
    yield load, control


def test_every_worker_records_and_the_total_is_locusts_own(finished: tuple[LoadProcess, list[Record]]) -> None:
    load, control = finished
    requests = read_requests(load.out_dir)
    stopped = next(r for r in control if r["kind"] == "load_stopped")
    assert stopped["locust_requests"] > 100
    assert len(requests) == stopped["locust_requests"]  # none lost, none counted twice
    assert requests.errors_count() == stopped["locust_failures"]
    assert load.requests == len(requests)
    per_worker = [len(read_requests_file(path)) for path in load.worker_paths]
    assert all(n > 0 for n in per_worker) and sum(per_worker) == len(requests)
    assert (load.out_dir / "locust.hreq").is_file()  # the master's: its records, no requests
    # load_stopped is when load stopped (every request started before it), not when the totals were complete
    assert float(requests.t.max()) <= stopped["t"]


def test_load_started_waits_for_the_workers_and_comes_first(finished: tuple[LoadProcess, list[Record]]) -> None:
    _, control = finished
    assert [r["kind"] for r in control] == ["load_started", "load_stopped"]
    assert control[0]["workers"] == 2


def read_requests_file(path: Path):  # type: ignore[no-untyped-def]
    folder = path.parent / f"only-{path.stem}"
    folder.mkdir(exist_ok=True)
    (folder / path.name).write_bytes(path.read_bytes())
    return read_requests(folder)
