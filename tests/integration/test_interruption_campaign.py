"""Real runs interrupted at random moments of every phase (scripts/interruption_campaign.py).

`make test` runs a short campaign (about two minutes of wall time, one run at a time): a tiny
system of its own (cheap runs, every action) and CQRS with PostgreSQL (the data directory
cases). `make test-full` runs the 100-run campaign across every reference system.
Also here: what the next run's sweep does after a SIGKILL, a closed output on the real CLI,
and a PostgreSQL service killed for good.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.infra.postgres import data_dir_for
from harness.journal import read_journal

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import interruption_campaign as campaign  # noqa: E402

pytestmark = pytest.mark.integration
HARNESS = [sys.executable, "-m", "harness.cli"]


def explain(outcomes: list[campaign.Outcome]) -> str:
    return "\n".join(f"#{o.case.number} {o.case.experiment} {o.case.action} in {o.phase_hit}: exit {o.returncode}: "
                     f"{'; '.join(o.problems)}" for o in outcomes if not o.ok)


def test_a_short_campaign_on_a_tiny_system_leaves_nothing_behind(tmp_path: Path) -> None:
    # One run at a time: this test holds one of the machine's experiment slots (tests/slots.py).
    outcomes = campaign.campaign(runs=12, names=["tiny"], workdir=tmp_path, parallel=1, seed=7, load_s=3.0)
    assert all(o.ok for o in outcomes), explain(outcomes)
    actions = {o.case.action for o in outcomes if o.phase_hit}
    assert actions == set(campaign.ACTIONS), "every action was taken at least once"


def test_a_short_campaign_on_cqrs_leaves_no_database_behind(tmp_path: Path) -> None:
    outcomes = campaign.campaign(runs=3, names=["cqrs"], workdir=tmp_path, parallel=1, seed=11, load_s=6.0)
    assert all(o.ok for o in outcomes), explain(outcomes)


@pytest.mark.full
def test_the_full_campaign_100_runs_across_every_reference_system(tmp_path: Path) -> None:
    names = ["tiny", "circuit-breaker", "cqrs", "saga", "sidecar", "aggregator", "api-gateway", "database-per-service",
             "event-sourcing", "bff", "anti-corruption-layer"]
    outcomes = campaign.campaign(runs=110, names=names, workdir=tmp_path, parallel=1, seed=1, load_s=8.0)
    assert all(o.ok for o in outcomes), explain(outcomes)


def start(exp: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*HARNESS, "run", str(exp), "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if needle in line:
            return
        assert time.monotonic() < deadline, f"no {needle!r} within {timeout}s"
    raise AssertionError(f"the run ended before {needle!r}")


def alive(pids: list[int]) -> list[int]:
    out = []
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(p)
    return out


def started_pids(run_dir: Path) -> list[int]:
    return [r["pid"] for r in read_journal(run_dir / "journal.jsonl").records
            if r["kind"] in ("service_started", "toxiproxy_started", "prometheus_started") and r.get("pid")]


def test_after_a_sigkill_the_next_run_sweeps_and_completes_the_dead_runs_reports(tmp_path: Path) -> None:
    exp = campaign.tiny_experiment(tmp_path / "tiny", load_s=4.0)
    killed = start(exp, tmp_path / "killed")
    wait_for_line(killed, "!! fault slow applied")
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.stdout is not None
    killed.stdout.close()
    orphans = alive(started_pids(tmp_path / "killed"))
    assert len(orphans) >= 3, "the SIGKILL left Toxiproxy and the services running (what the sweep is for)"
    nxt = subprocess.run([*HARNESS, "run", str(exp), "--out", str(tmp_path / "next"), "--quiet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert nxt.returncode in (0, 1), nxt.stdout + nxt.stderr
    swept = list(read_journal(tmp_path / "next" / "journal.jsonl").of_kind("swept"))
    assert swept and any(f"pid {p} " in " ".join(swept[0]["killed"]) for p in orphans), swept
    assert not alive(orphans)
    result = json.loads((tmp_path / "killed" / "result.json").read_text())
    assert result["status"] == "interrupted" and "harness process died" in result["error"]
    for name in ("junit.xml", "report.html"):
        assert (tmp_path / "killed" / name).is_file()
    assert read_journal(tmp_path / "killed" / "journal.jsonl").records[-1]["kind"] == "run_finished"


def test_a_closed_output_on_the_real_cli_changes_nothing_but_the_output(tmp_path: Path) -> None:
    exp = campaign.tiny_experiment(tmp_path / "tiny", load_s=3.0)
    proc = start(exp, tmp_path / "run")
    wait_for_line(proc, "== load")
    assert proc.stdout is not None
    proc.stdout.close()  # `harness run ... | head -3`
    code = proc.wait(timeout=60)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert code == result["exit_code"] and result["status"] == "completed", result.get("error")
    assert not alive(started_pids(tmp_path / "run"))
    applied = {r["fault"] for r in read_journal(tmp_path / "run" / "journal.jsonl").of_kind("fault_applied")}
    removed = {r["fault"] for r in read_journal(tmp_path / "run" / "journal.jsonl").of_kind("fault_removed")}
    assert applied == removed == {"slow"}


def test_a_database_killed_for_good_leaves_no_data_directory(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(campaign.TINY_SERVICE)
    (tmp_path / "locustfile.py").write_text(campaign.TINY_LOCUSTFILE)
    (tmp_path / "system.yaml").write_text(textwrap.dedent("""\
        name: with-db
        locustfile: locustfile.py
        entry: app
        services:
          db:
            command: ["{python}", "-m", "harness.infra.postgres", "--databases", "app", "--data-key", "{run_dir}/{service}"]
            health: {type: tcp, timeout: 60s}
          app:
            command: ["{python}", "svc.py"]
            upstreams: [{service: db, env: DB_URL}]
        """))
    (tmp_path / "exp.yaml").write_text(textwrap.dedent("""\
        name: db-killed
        system: system.yaml
        load: {users: 1, spawn_rate: 1, duration: 4s}
        faults:
          - {name: db-gone, type: kill, service: db, attributes: {restart: false}, start: 1s}
        checks:
          - {type: error_rate, max: 1.0, min_requests: 1}
        """))
    out = tmp_path / "run"
    proc = subprocess.run([*HARNESS, "run", str(tmp_path / "exp.yaml"), "--out", str(out), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert [r["action"] for r in read_journal(out / "journal.jsonl").of_kind("service_action")] == ["kill"]
    assert not data_dir_for(str(out.resolve() / "db")).exists()
