"""Finding and running toxiproxy-server: search order, diagnostics, a clean stop."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from harness.errors import ToolMissing, ToxiproxyError
from harness.faults import ToxiproxyServer, find_server_binary
from harness.faults.server import BINARY_NAME, ENV_VAR, REPO_ROOT


def fake_binary(directory: Path, script: str, name: str = BINARY_NAME) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- finding the binary ------------------------------------------------------------------------

def test_the_env_var_wins_over_the_repo_and_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = fake_binary(tmp_path / "elsewhere", "exit 0", name="my-toxiproxy")
    fake_binary(tmp_path / "repo" / ".tools" / "bin", "exit 0")
    monkeypatch.setenv(ENV_VAR, str(named))
    assert find_server_binary(repo_root=tmp_path / "repo") == named


def test_a_wrong_env_var_is_tool_missing_rather_than_another_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(ToolMissing, match=f"{ENV_VAR}=.*/nope is not an executable file"):
        find_server_binary()


def test_the_repo_tools_binary_comes_before_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = fake_binary(tmp_path / "repo" / ".tools" / "bin", "exit 0")
    fake_binary(tmp_path / "bin", "exit 0")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_server_binary(repo_root=tmp_path / "repo") == local


def test_path_is_searched_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = fake_binary(tmp_path / "bin", "exit 0")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_server_binary(repo_root=tmp_path / "empty-repo") == on_path


def test_a_missing_binary_says_to_run_make_tools_or_set_the_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing) as caught:
        find_server_binary(repo_root=tmp_path)
    assert "toxiproxy-server not found" in str(caught.value)
    assert caught.value.hint == f"run `make tools` or set {ENV_VAR}"


def test_the_repo_root_is_the_parent_of_the_harness_package() -> None:
    assert (REPO_ROOT / "harness" / "faults" / "server.py").is_file()


# -- start-up failures are reported with the log -------------------------------------------------

def test_a_server_that_exits_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, 'echo "listen tcp: address already in use" >&2; exit 3')
    server = ToxiproxyServer(tmp_path / "server.log", binary=binary)
    with pytest.raises(ToxiproxyError) as caught:
        server.start()
    message = str(caught.value)
    assert "toxiproxy-server exited with code 3 before its API answered" in message
    assert f"-host 127.0.0.1 -port {server.port} -proxy-metrics" in message
    assert "listen tcp: address already in use" in message
    assert not server.running


def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, "echo still thinking; exec sleep 30")
    server = ToxiproxyServer(tmp_path / "server.log", binary=binary, startup_timeout=0.5)
    with pytest.raises(ToxiproxyError, match=r"(?s)did not answer within 0.5s.*still thinking"):
        server.start()
    assert not server.running


# -- the real server ---------------------------------------------------------------------------

@pytest.mark.integration
def test_the_server_starts_on_a_free_loopback_port_and_answers(tmp_path: Path) -> None:
    with ToxiproxyServer(tmp_path / "server.log") as server:
        assert server.api_url == f"http://127.0.0.1:{server.port}"
        assert server.client.version().removesuffix("+harness") == "2.12.0"
        assert server.client.proxies() == {}
        # -proxy-metrics was passed: without it /metrics is a 404.
        assert httpx.get(f"{server.api_url}/metrics", trust_env=False).status_code == 200
    log = (tmp_path / "server.log").read_text()
    assert f"127.0.0.1:{server.port}" in log
    assert '"level":"debug"' not in log  # LOG_LEVEL=info: no line per API call or connection


@pytest.mark.integration
def test_stop_leaves_no_process_and_can_be_called_again(tmp_path: Path) -> None:
    server = ToxiproxyServer(tmp_path / "server.log").start()
    pid, port = server.pid, server.port
    assert pid is not None and port is not None and process_exists(pid)

    server.stop()
    server.stop()

    assert not process_exists(pid)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.mark.integration
def test_a_taken_port_is_refused_before_starting_so_we_never_drive_another_server(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ToxiproxyServer(tmp_path / "server.log", port=port)
        with pytest.raises(ToxiproxyError, match=f"127.0.0.1:{port} is already in use"):
            server.start()
    assert server.pid is None


@pytest.mark.integration
def test_a_bind_failure_is_reported_at_once_although_the_server_keeps_running(tmp_path: Path) -> None:
    # toxiproxy-server logs the bind error and then waits for a signal instead of exiting;
    # start() must notice the log line rather than wait out its whole timeout.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound but not listening: the pre-check cannot see it
        port = taken.getsockname()[1]
        server = ToxiproxyServer(tmp_path / "server.log", port=port, startup_timeout=8)
        started = time.monotonic()
        reported = r"(?s)reported an error before its API answered.*address already in use"
        with pytest.raises(ToxiproxyError, match=reported):
            server.start()
    assert time.monotonic() - started < 4
    assert not server.running


def test_free_ports_stay_below_the_ephemeral_range_where_outgoing_connections_live() -> None:
    from harness.net import _ephemeral_low, free_port

    low = _ephemeral_low()
    ports = {free_port() for _ in range(20)}
    if low > 21000:
        assert all(p < low for p in ports), ports
    assert len(ports) > 1


def test_two_live_processes_are_never_handed_the_same_port() -> None:
    import subprocess
    import sys

    code = ("import sys; from harness.net import free_port; "
            "print(' '.join(str(free_port()) for _ in range(300)), flush=True); sys.stdin.read()")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        handed = [set(map(int, p.stdout.readline().split())) for p in procs]  # type: ignore[union-attr]
    finally:
        for p in procs:
            p.communicate("", timeout=10)
    assert len(handed[0]) == len(handed[1]) == 300
    assert not handed[0] & handed[1]
