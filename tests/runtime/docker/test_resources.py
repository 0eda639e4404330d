"""Without a Docker daemon a docker run is an environment error (exit 3) that says what to do."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.catalog import REPO_ROOT
from harness.errors import EnvironmentProblem
from harness.runtime.docker.resources import address_in, connect, run_labels


def test_no_daemon_is_an_environment_problem_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(EnvironmentProblem) as caught:
        connect()
    assert "no Docker daemon answers" in str(caught.value)
    assert "dockerd" in str(caught.value) and "DOCKER_HOST" in str(caught.value)


def test_a_docker_run_without_a_daemon_exits_3_and_says_what_to_do(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "experiments/circuit-breaker.yaml",
                           "--runtime", "docker", "--out", str(tmp_path / "run"), "--quiet"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no Docker daemon answers" in proc.stderr and "hint: start the Docker daemon" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unknown_runtime_is_a_usage_error_that_lists_docker(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "experiments/circuit-breaker.yaml",
                           "--runtime", "dokcer", "--out", str(tmp_path / "run")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown runtime 'dokcer' (did you mean 'docker'?); known: docker, local" in proc.stderr


def test_labels_name_the_run_and_the_process_that_owns_it() -> None:
    labels = run_labels("abc", **{"io.harness.service": "orders"})
    assert labels["io.harness.run"] == "abc" and labels["io.harness.service"] == "orders"
    assert labels["io.harness.pid"].isdigit() and labels["io.harness.host"]


def test_addresses_are_counted_from_the_subnet_start() -> None:
    assert address_in("172.18.0.0/16", 2) == "172.18.0.2"
    assert address_in("10.5.3.0/24", 3) == "10.5.3.3"
