"""The database-per-service experiments for real, sound and with the shared-database defect.

Blast radius: with its own database behind its own edge, only the paths that need catalog
degrade when catalog's database edge is slow or down; with one shared database, the paths
that need only users or orders degrade too. Each run takes about 40 s.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from harness.checks.selection import percentile
from harness.infra.postgres import data_dir_for
from harness.journal import History, read_journal

pytestmark = pytest.mark.integration
ISOLATION = {"users-path-keeps-latency", "users-path-keeps-error-rate", "order-reads-keep-latency",
             "order-reads-keep-error-rate"}


def assert_nothing_left(out: Path) -> None:
    history = read_journal(out / "journal.jsonl")
    pids = [r["pid"] for r in history.records if r["kind"] in ("service_started", "toxiproxy_started") and r.get("pid")]
    deadline = time.monotonic() + 10
    while (alive := [p for p in pids if Path(f"/proc/{p}").exists() and _state(p) != "Z"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes still running after the run: {alive}"
    data = data_dir_for(str(out / "db"))
    assert not data.exists() and not subprocess.run(["pgrep", "-f", str(data)], capture_output=True).stdout


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def during(history: History, fault: str, name: str) -> list[float]:
    fw = history.faults()[fault]
    assert fw.applied is not None and fw.removed is not None
    return [float(ms) for ms in history.requests.where(name=name).between(fw.applied + 1, fw.removed).ms]


def databases(history: History) -> dict[str, str]:
    return {s: a["database"] for s, a in history.audits().items()}


def test_a_slow_then_hung_catalog_database_degrades_only_the_paths_that_need_catalog(run_experiment) -> None:
    run = run_experiment("experiments/database-per-service.yaml")
    assert run.code == 0, run.explain()
    history = read_journal(run.out / "journal.jsonl")
    products = sorted(during(history, "catalog-db-slow", "GET /products/[id]"))
    assert products and percentile(products, 50) >= 900, "the fault did not take effect"
    assert databases(history) == {"catalog": "catalog", "users": "users", "orders": "orders"}
    assert run.check("orders-consistent")["evidence"]["answered_200"] > 100
    assert_nothing_left(run.out)


def test_with_a_shared_database_a_slow_catalog_database_slows_everyone(run_experiment) -> None:
    run = run_experiment("experiments/database-per-service.yaml", "shared-database")
    assert run.code == 1, run.explain()
    assert {"users-path-isolated-from-slow-catalog-db", "order-reads-isolated-from-slow-catalog-db"} <= run.failed, \
        run.explain()
    for name in ("users-path-isolated-from-slow-catalog-db", "order-reads-isolated-from-slow-catalog-db"):
        assert "lost its steady state in 'during catalog-db-slow'" in run.check(name)["summary"], run.explain()
    history = read_journal(run.out / "journal.jsonl")
    assert set(databases(history).values()) == {"catalog"}
    assert_nothing_left(run.out)


def test_a_catalog_database_outage_fails_only_the_paths_that_need_catalog(run_experiment) -> None:
    run = run_experiment("experiments/database-per-service-down.yaml")
    assert run.code == 0, run.explain()
    history = read_journal(run.out / "journal.jsonl")
    fw = history.faults()["catalog-db-down"]
    products = history.requests.where(name="GET /products/[id]").between(fw.applied + 1, fw.removed)
    assert len(products) and products.errors_count() / len(products) >= 0.9
    assert_nothing_left(run.out)


@pytest.mark.full
def test_with_a_shared_database_a_catalog_database_outage_fails_everyone(run_experiment) -> None:
    run = run_experiment("experiments/database-per-service-down.yaml", "shared-database")
    assert run.code == 1, run.explain()
    assert {"users-path-isolated", "order-reads-isolated"} <= run.failed, run.explain()
    assert_nothing_left(run.out)
