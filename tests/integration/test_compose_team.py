"""A team's own docker-compose.yml (examples/compose-team, written by hand, not generated) as
the system, in the Docker runtime.

The stack: ``web`` calls ``api`` at ``http://api:8000`` (its own environment, unchanged); ``api`` reads
its greeting from an ``env_file``, keeps a counter on a named volume and has a Compose ``healthcheck``;
``web`` ``depends_on`` it being healthy and publishes ``8080``. The harness puts Toxiproxy on the edge
``web->api`` by giving Toxiproxy the alias ``api`` on a network it shares with ``web`` only. A latency
fault on that edge must show in the clients' latency and a ``down`` must cut it: so the calls really
went through the proxy without the team's configuration changing. About 35 s.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from dockerkit import assert_nothing_left, docker_ready  # noqa: F401  (fixture)
from harness.journal import read_journal

pytestmark = [pytest.mark.integration, pytest.mark.docker]

TEAM = Path(__file__).resolve().parents[2] / "examples" / "compose-team"


def test_the_file_is_a_compose_file_docker_compose_accepts() -> None:
    """Not a harness dialect: Debian's docker-compose (v1) reads it as it is."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (.ci/run installs it)")
    proc = subprocess.run(["docker-compose", "-f", str(TEAM / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_faults_on_a_compose_edge_bite_and_the_stack_runs_as_compose_would(
        run_experiment: Callable[..., Any], docker_ready: Any) -> None:
    run = run_experiment(str(TEAM / "experiment.yaml"))  # no --runtime: a Compose system runs in Docker
    assert run.code == 0, run.explain()
    assert run.result["runtime"] == "docker"
    slow = run.check("the-api-call-went-through-the-proxy")["evidence"]
    assert slow["value_ms"] - slow["baseline_value_ms"] >= 250, slow
    assert run.check("the-cut-edge-bit")["evidence"]["error_rate"] >= 0.9

    history = read_journal(run.out / "journal.jsonl")
    networks = {r["edge"]: r for r in history.of_kind("edge_network")}
    assert set(networks) == {"web->api"} and networks["web->api"]["alias"] == "api"  # the callee's own name
    proxy = history.first("proxy_created")
    assert proxy and proxy["listen"] == f"{networks['web->api']['toxiproxy']}:8000"  # api's port, on the edge's network
    started = [r["service"] for r in history.of_kind("service_started")]
    assert started.index("api") < started.index("web")  # depends_on: service_healthy
    assert {r["service"]: r["keys"] for r in history.of_kind("compose_ignored")} == {"web": ["restart"]}
    web_log = (run.out / "logs" / "web.log").read_text()
    assert "Traceback" not in web_log
    assert_nothing_left(run.out)  # containers, the edge's network and the named volume
