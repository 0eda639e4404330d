"""The real circuit-breaker experiment, both ways, through the real CLI, plus clean-up rules.

Real toxiproxy-server, real services, real Locust. Each run takes about 50 s.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.journal import read_journal

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "circuit-breaker.yaml"
HARNESS = [sys.executable, "-m", "harness.cli"]


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def started_pids(run_dir: Path) -> list[int]:
    history = read_journal(run_dir / "journal.jsonl")
    kinds = ("service_started", "toxiproxy_started", "prometheus_started")
    return [r["pid"] for r in history.records if r["kind"] in kinds and r.get("pid")]


def assert_all_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]
        time.sleep(0.1)
    assert not alive, f"processes still alive after the run: {alive}"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def test_the_sound_system_passes_and_writes_the_four_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli("run", str(EXPERIMENT), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("report.html", "result.json", "journal.jsonl", "junit.xml"):
        assert (out / name).is_file(), name
    result = json.loads((out / "result.json").read_text())
    assert result["verdict"] == "passed"
    assert {c["name"] for c in result["checks"]} >= {"breaker-opens", "fails-fast-while-open", "breaker-closes"}
    checks = {c["name"]: c for c in result["checks"]}
    # Judged from payments' own ledger: only probes while open, every acknowledged order charged once.
    assert checks["payments-load-while-open"]["evidence"]["calls"] <= 8
    money = checks["every-acknowledged-order-charged-once"]["evidence"]
    assert money["acknowledged"] > 1000 and money["distinct_effects"] >= money["acknowledged"]
    assert checks["answers-consistent"]["evidence"]["requests"] > 1000
    history = read_journal(out / "journal.jsonl")
    states = [e["state"] for e in history.events if e.get("type") == "breaker_state"]
    assert "open" in states and states[-1] == "closed"
    assert [r["kind"] for r in history.of_kind("fault_removed")], "the fault was never removed"
    assert_all_gone(started_pids(out))


def test_the_breaker_disabled_defect_fails_on_a_breaker_check(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli("run", str(EXPERIMENT), "--out", str(out), "--defect", "breaker-disabled")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads((out / "result.json").read_text())
    failed = {c["name"]: c for c in result["checks"] if c["verdict"] == "failed"}
    assert "breaker-opens" in failed, result["checks"]
    assert "fails-fast-while-open" in failed
    assert failed["fails-fast-while-open"]["evidence"]["value_ms"] > 300  # waited out the payments timeout
    # Caught from the effects too, not only by a missing event: every order reached payments.
    assert failed["payments-load-while-open"]["evidence"]["calls"] > 50
    assert result["defect"] == "breaker-disabled"
    assert_all_gone(started_pids(out))


def test_sigint_mid_fault_heals_stops_everything_and_keeps_the_journal(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([*HARNESS, "run", str(EXPERIMENT), "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        applied_seen = False
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        for line in proc.stdout:
            if "fault payments-slow applied" in line:
                applied_seen = True
                break
            if time.monotonic() > deadline:
                break
        assert applied_seen, "the fault was never applied"
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest
    history = read_journal(out / "journal.jsonl")
    assert history.requests, "what was recorded before the interrupt was lost"
    applied = {r["fault"] for r in history.of_kind("fault_applied")}
    removed = {r["fault"] for r in history.of_kind("fault_removed")}
    assert applied == removed == {"payments-slow"}
    assert history.records[-1]["kind"] == "run_finished" and history.records[-1]["status"] == "interrupted"
    assert_all_gone(started_pids(out))
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"


def test_a_malformed_experiment_exits_2_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXPERIMENT.read_text().replace("duration: 45s", "duration: 45 s"))
    proc = run_cli("run", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    line = EXPERIMENT.read_text().splitlines().index("  duration: 45s") + 1  # the field's own line
    assert f"{bad}:{line}: load.duration: invalid duration '45 s'" in proc.stderr
    text = EXPERIMENT.read_text()
    assert '{latency: "payments_timeout * 4"}' in text  # the misspelling below must land somewhere
    bad.write_text(text.replace('{latency: "payments_timeout * 4"}', '{latncy: "payments_timeout * 4"}'))
    proc = run_cli("run", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "faults[0].attributes.latncy: unknown field 'latncy' (did you mean 'latency'?)" in proc.stderr


def test_an_unknown_defect_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("run", str(EXPERIMENT), "--defect", "nope", "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "has no defect 'nope'; defects: breaker-disabled" in proc.stderr


def test_list_json_names_the_system_its_experiment_and_defects() -> None:
    proc = run_cli("list", "--json")
    assert proc.returncode == 0
    systems = {s["name"]: s for s in json.loads(proc.stdout)["systems"]}
    cb = systems["circuit-breaker"]
    assert [d["name"] for d in cb["defects"]] == ["breaker-disabled", "breaker-ignores-5xx"]
    assert {e["path"] for e in cb["experiments"]} >= {"experiments/circuit-breaker.yaml",
                                                      "experiments/circuit-breaker-metrics.yaml"}
