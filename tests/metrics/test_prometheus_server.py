"""Finding Prometheus (or saying why not), and running a real one for a run."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import httpx
import pytest

from harness.journal import JournalWriter, read_journal
from harness.metrics import prometheus_server as ps
from harness.metrics.prometheus_config import ScrapeTarget
from harness.metrics.prometheus_server import PrometheusServer, PrometheusUnavailable, find_prometheus
from harness.net import free_port

HAVE_PROMETHEUS = shutil.which("prometheus") is not None or ps.DEBIAN_PATH.is_file()


def server_in(run_dir: Path) -> PrometheusServer:
    return PrometheusServer(config_path=run_dir / "prometheus.yml", log_path=run_dir / "logs" / "prometheus.log")


def fake_binary(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 3\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize("value", ["off", "OFF", "none", "0", "false"])
def test_harness_prometheus_off_turns_it_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HARNESS_PROMETHEUS", value)
    with pytest.raises(PrometheusUnavailable, match=f"Prometheus is turned off \\(HARNESS_PROMETHEUS={value}\\)"):
        find_prometheus()


def test_a_wrong_harness_prometheus_is_named_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_PROMETHEUS", "/nonexistent")
    with pytest.raises(PrometheusUnavailable) as err:
        find_prometheus()
    assert str(err.value).startswith("HARNESS_PROMETHEUS=/nonexistent is not an executable file; install Debian's "
                                     "prometheus package")


def test_harness_prometheus_wins_over_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    binary = fake_binary(tmp_path / "my-prometheus")
    monkeypatch.setenv("HARNESS_PROMETHEUS", str(binary))
    assert find_prometheus() == binary


def test_without_a_binary_anywhere_the_reason_lists_where_it_looked(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.delenv("HARNESS_PROMETHEUS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(ps, "DEBIAN_PATH", tmp_path / "absent")
    with pytest.raises(PrometheusUnavailable, match=r"no prometheus binary in \$HARNESS_PROMETHEUS, PATH or "):
        find_prometheus()


def test_unavailable_is_journaled_and_the_run_goes_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_PROMETHEUS", "off")
    journal = JournalWriter(tmp_path / "journal.jsonl")
    server = server_in(tmp_path)
    assert server.start_for_run([], journal) is False
    journal.close()
    assert not server.running and server.stop() is False
    [rec] = list(read_journal(tmp_path / "journal.jsonl").of_kind("prometheus_unavailable"))
    assert rec["reason"] == "Prometheus is turned off (HARNESS_PROMETHEUS=off)"


def test_a_binary_that_will_not_start_is_a_reason_with_its_log_and_a_notice(monkeypatch: pytest.MonkeyPatch,
                                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_PROMETHEUS", str(fake_binary(tmp_path / "broken")))
    journal = JournalWriter(tmp_path / "journal.jsonl")
    notices: list[str] = []
    assert server_in(tmp_path).start_for_run([], journal, notice=notices.append) is False
    journal.close()
    [rec] = list(read_journal(tmp_path / "journal.jsonl").of_kind("prometheus_unavailable"))
    assert rec["reason"].startswith("prometheus exited with code 3 before it was ready")
    assert f"last lines of {tmp_path / 'logs' / 'prometheus.log'}" in rec["reason"]
    assert notices == ["Prometheus did not start, PromQL checks will be unknown: prometheus exited with code 3 "
                       "before it was ready"]


@pytest.mark.integration
@pytest.mark.skipif(not HAVE_PROMETHEUS, reason="Debian's prometheus package is not installed")
def test_a_real_prometheus_scrapes_its_targets_and_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    monkeypatch.delenv("HARNESS_PROMETHEUS", raising=False)
    journal = JournalWriter(tmp_path / "journal.jsonl")
    # Prometheus scraping itself is a target that is surely up; a closed port is one that is down.
    down = f"127.0.0.1:{free_port()}"
    server = server_in(tmp_path)
    assert server.start_for_run([ScrapeTarget("down", down)], journal) and server.running
    storage = server.storage
    assert storage is not None and os.path.isdir(storage)
    try:
        assert server.wait_scraping(journal, timeout=15)
        with httpx.Client(base_url=server.url, timeout=5) as client:
            found = client.get("/api/v1/query", params={"query": "up"}).json()["data"]["result"]
        assert [(r["metric"]["job"], r["value"][1]) for r in found] == [("down", "0")]
    finally:
        assert server.stop() is True
        journal.close()
    assert not server.running and not os.path.exists(storage)
    history = read_journal(tmp_path / "journal.jsonl")
    scraping = history.first("prometheus_scraping")
    assert scraping is not None and scraping["targets_scraped"] == 1 and scraping["waited_s"] < 15
    rec = history.first("prometheus_started")
    assert rec is not None and rec["url"] == server.url and rec["scrape_interval"] == 1.0 and rec["storage"] == storage
    assert rec["targets"] == [{"job": "down", "address": down, "metrics_path": "/metrics"}]
    assert "job_name: down" in (tmp_path / "prometheus.yml").read_text()
    assert (tmp_path / "logs" / "prometheus.log").read_text().strip()
