"""The local process registry: what a dead harness left is swept, a live run's never is."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import runstate
from harness.runstate import RunState, start_ticks, sweep_dead_runs


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "state"
    monkeypatch.setenv(runstate.ENV_STATE_DIR, str(directory))
    return directory


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def sleeper(procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    # A group of two, as a service that spawned a worker: the sweep must take both.
    p = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                          "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"],
                         start_new_session=True)
    procs.append(p)
    return p


def dead_pid() -> tuple[int, int]:
    """The pid and start time of a process that has exited: a harness killed with SIGKILL."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    start = start_ticks(p.pid)
    assert start is not None
    p.wait()
    return p.pid, start


def state_of_dead_harness(directory: Path, run_dir: str = "") -> RunState:
    pid, start = dead_pid()
    directory.mkdir(parents=True, exist_ok=True)
    state = RunState(directory / f"{pid}-{start}-abc.jsonl")
    state.path.write_text(json.dumps({"event": "run", "pid": pid, "start": start, "run_dir": run_dir}) + "\n")
    return state


def group_of(pid: int) -> list[int]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        members = runstate._group_members(pid, 0)
        if len(members) >= 2:
            return members
        time.sleep(0.05)
    return runstate._group_members(pid, 0)


def wait_dead(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if start_ticks(p) is not None]
        time.sleep(0.05)
    return alive


def test_the_sweep_kills_the_process_groups_of_a_dead_harness(own_state_dir: Path,
                                                               sleepers: list[subprocess.Popen[bytes]]) -> None:
    p = sleeper(sleepers)
    members = group_of(p.pid)
    state = state_of_dead_harness(own_state_dir)
    state.record_started(p.pid, what="service orders")
    report = sweep_dead_runs()
    assert report.runs == 1 and report.killed == [f"pid {p.pid} (service orders)",
                                                  *[f"pid {m} (service orders (its process group))"
                                                    for m in members if m != p.pid]]
    assert not wait_dead(members)
    assert not state.path.exists(), "a swept run's state file is deleted"


def test_a_live_runs_processes_are_never_swept(sleepers: list[subprocess.Popen[bytes]]) -> None:
    p = sleeper(sleepers)
    members = group_of(p.pid)
    with runstate.tracking("live") as state:
        runstate.record_started(p.pid, what="service orders")
        report = sweep_dead_runs()
        assert report.runs == 0 and report.killed == []
        assert p.poll() is None
        assert state.survivors() == {p.pid: "service orders", **{m: "service orders (its process group)"
                                                                   for m in members if m != p.pid}}
        state.kill_survivors()


def test_a_reused_pid_is_not_killed(own_state_dir: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    p = sleeper(sleepers)
    state = state_of_dead_harness(own_state_dir)
    # Recorded with another start time: the pid now belongs to an unrelated process.
    state._append({"event": "started", "pid": p.pid, "pgid": p.pid, "start": (start_ticks(p.pid) or 0) - 1000,
                   "what": "service gone"})
    report = sweep_dead_runs()
    assert report.killed == [] and p.poll() is None


def test_recorded_directories_are_removed_but_only_harness_ones_in_tmp(own_state_dir: Path, tmp_path: Path) -> None:
    mine = Path(tempfile.mkdtemp(prefix="harness-pg-test-"))
    (mine / "PG_VERSION").write_text("15")
    precious = tmp_path / "harness-precious"  # not directly in the temp dir: never removed
    precious.mkdir()
    state = state_of_dead_harness(own_state_dir)
    state.record_path(mine)
    state.record_path(precious)
    state.record_path("/")
    report = sweep_dead_runs()
    assert report.removed == [str(mine)]
    assert not mine.exists() and precious.exists()


def test_a_launcher_records_its_directory_in_the_runs_file(monkeypatch: pytest.MonkeyPatch) -> None:
    with runstate.tracking("run") as state:
        monkeypatch.setenv(runstate.ENV_RUN_STATE, runstate.child_env()[runstate.ENV_RUN_STATE])
        runstate.record_path_from_child("/tmp/harness-pg-0123")
        assert state.read()[2] == ["/tmp/harness-pg-0123"]


def test_the_dead_runs_folder_is_handed_back_for_its_reports(own_state_dir: Path) -> None:
    state_of_dead_harness(own_state_dir, run_dir="/some/run")
    assert sweep_dead_runs().run_dirs == [Path("/some/run")]


def test_a_cut_last_line_does_not_hide_the_rest(own_state_dir: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    p = sleeper(sleepers)
    state = state_of_dead_harness(own_state_dir)
    state.record_started(p.pid, what="locust")
    with state.path.open("a") as f:
        f.write('{"event": "started", "pid": 12')  # the SIGKILL came mid-line
    assert sweep_dead_runs().killed[0] == f"pid {p.pid} (locust)"


def test_dry_run_lists_without_touching(own_state_dir: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    p = sleeper(sleepers)
    state = state_of_dead_harness(own_state_dir)
    state.record_started(p.pid, what="toxiproxy-server")
    report = sweep_dead_runs(dry_run=True)
    assert f"pid {p.pid} (toxiproxy-server)" in report.killed
    assert p.poll() is None and state.path.exists()
    os.killpg(p.pid, 9)
