"""PromQL checks against a REAL Prometheus: the circuit-breaker-metrics experiment, three ways.

Sound (every check passes), with the breaker-disabled defect (the metric checks fail, for
the right reason: calls to payments run at the offered rate), and without Prometheus (the
run still works; every PromQL check is unknown and says why). Each run takes about 40 s.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from harness.journal import read_journal
from harness.metrics.prometheus_server import DEBIAN_PATH

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/circuit-breaker-metrics.yaml"
PROMQL_CHECKS = {"breaker-opens-metric", "payments-calls-at-probe-rate", "edge-bytes-at-probe-rate",
                 "breaker-closed-after"}


@pytest.fixture
def with_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_PROMETHEUS", raising=False)
    if shutil.which("prometheus") is None and not DEBIAN_PATH.is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's prometheus package (.ci/run does)")
        pytest.skip("Debian's prometheus package is not installed (apt-get install prometheus)")


def prometheus_gone(run_dir: Path) -> None:
    """The Prometheus process is stopped and its temporary storage removed."""
    history = read_journal(run_dir / "journal.jsonl")
    started = history.first("prometheus_started")
    assert started is not None, "no prometheus_started in the journal"
    assert history.first("prometheus_stopped") is not None
    pid = started["pid"]
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    assert started["storage"] and not os.path.exists(started["storage"]), "Prometheus storage left behind"


def test_the_sound_breaker_passes_every_promql_check(run_experiment, with_prometheus) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    assert run.result["verdict"] == "passed"
    assert {c["name"] for c in run.result["checks"]} >= PROMQL_CHECKS
    calls = run.check("payments-calls-at-probe-rate")["evidence"]["series"][0]
    assert calls["value"] <= 3 and len(calls["points"]) >= 5  # the probe rate (~0.5/s), over the open window
    assert run.check("breaker-opens-metric")["evidence"]["series"][0]["value"] >= 1
    assert (run.out / "prometheus.yml").is_file() and "job_name: toxiproxy" in (run.out / "prometheus.yml").read_text()
    assert "svg class=\"spark\"" in (run.out / "report.html").read_text()
    prometheus_gone(run.out)


def test_the_breaker_disabled_defect_fails_the_metric_checks(run_experiment, with_prometheus) -> None:
    run = run_experiment(EXPERIMENT, "breaker-disabled")
    assert run.code == 1, run.explain()
    assert run.result["status"] == "completed" and not run.result["deviated"], run.explain()
    assert PROMQL_CHECKS <= run.failed, run.explain()
    # The right reason: without a breaker every order calls payments and waits out its 0.5 s
    # timeout, so 8 users send ~16 calls/s where the open breaker lets ~0.5/s through.
    assert run.check("payments-calls-at-probe-rate")["evidence"]["series"][0]["value"] > 8, run.explain()
    assert run.check("edge-bytes-at-probe-rate")["evidence"]["series"][0]["value"] > 2000, run.explain()
    assert run.check("breaker-opens-metric")["evidence"]["series"][0]["value"] == 0
    prometheus_gone(run.out)


def test_without_prometheus_the_run_works_and_promql_checks_say_why_unknown(run_experiment,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_PROMETHEUS", "/nonexistent")
    run = run_experiment(EXPERIMENT)
    assert run.code == 1, run.explain()
    assert run.result["verdict"] == "unknown" and run.result["status"] == "completed"
    for name in PROMQL_CHECKS:
        check = run.check(name)
        assert check["verdict"] == "unknown"
        assert check["summary"].startswith("no Prometheus was running: HARNESS_PROMETHEUS=/nonexistent is not an "
                                           "executable file; install Debian's prometheus package"), check["summary"]
    steady = [c for c in run.result["checks"] if c["group"] != "checks"]
    assert steady and all(c["verdict"] == "passed" for c in steady), run.explain()
    assert not (run.out / "prometheus.yml").exists()
