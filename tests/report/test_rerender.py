"""harness report RUN_DIR: every report re-rendered from the stored history, interrupted runs included."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthetic_runs import build_run

from harness.cli import main


def test_a_run_folder_is_re_rendered_with_its_checks_evaluated_again(tmp_path: Path) -> None:
    build_run(tmp_path / "run")
    for name in ("result.json", "junit.xml", "report.html"):
        (tmp_path / "run" / name).unlink()
    assert main(["report", str(tmp_path / "run")]) == 0  # the synthetic run holds every check
    doc = json.loads((tmp_path / "run" / "result.json").read_text())
    assert doc["status"] == "completed" and doc["counts"]["requests"] == 3000
    assert {c["name"] for c in doc["checks"]} >= {"breaker-opens", "fails-fast-while-open"}
    assert doc["endpoints"] and (tmp_path / "run" / "report.html").is_file() and (tmp_path / "run" / "junit.xml").is_file()


def test_an_interrupted_run_is_rendered_from_what_it_recorded(tmp_path: Path) -> None:
    run = tmp_path / "run"
    build_run(run)
    lines = (run / "journal.jsonl").read_text().splitlines()
    (run / "journal.jsonl").write_text("\n".join(lines[:-1]) + '\n{"kind":"fault_ap')  # killed mid-line
    data = (run / "requests" / "locust.hreq").read_bytes()
    (run / "requests" / "locust.hreq").write_bytes(data[:-100])  # and mid-chunk
    assert main(["report", str(run)]) == 130  # the run's own exit code: it was interrupted
    doc = json.loads((run / "result.json").read_text())
    assert doc["status"] == "interrupted" and "cut short" in doc["error"]
    assert 2900 < doc["counts"]["requests"] < 3000


def test_a_folder_without_a_journal_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "has no journal.jsonl" in capsys.readouterr().err


def test_a_suite_folder_is_re_rendered_run_by_run_and_then_its_index(tmp_path: Path) -> None:
    from synthetic_runs import EXPERIMENT

    from harness.experiment import load_experiment
    from harness.report.suite_report import write_suite_reports
    from harness.suite import Job, SuiteResult

    suite_dir = tmp_path / "suite"
    result = build_run(suite_dir / "circuit-breaker")
    suite = SuiteResult(suite_dir, [Job(load_experiment(EXPERIMENT))], started=1.0, finished=2.0)
    suite.results["circuit-breaker"] = result
    write_suite_reports(suite)
    for f in ("index.html", "junit.xml", "circuit-breaker/report.html"):
        (suite_dir / f).unlink()
    assert main(["report", str(suite_dir)]) == 0
    assert (suite_dir / "index.html").is_file() and (suite_dir / "circuit-breaker" / "report.html").is_file()
    assert json.loads((suite_dir / "result.json").read_text())["runs"][0]["verdict"] == "passed"
