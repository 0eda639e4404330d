import json
from pathlib import Path

from harness.journal import History
from harness.report import build_timeline, result_document, write_reports
from harness.result import RunResult


def test_result_json_has_the_verdict_checks_timeline_and_faults(tmp_path: Path, result: RunResult,
                                                                history: History) -> None:
    paths = write_reports(tmp_path, result, history)
    doc = json.loads(paths["result.json"].read_text(encoding="utf-8"))
    assert doc["verdict"] == "failed"
    assert [(c["name"], c["verdict"]) for c in doc["checks"]][:2] == [
        ("steady-state before: error rate", "passed"), ("breaker opens", "failed")]
    assert len(doc["timeline"]["seconds"]) == 30 and doc["timeline"]["seconds"][12]["failures"] == 4
    assert doc["faults"] == [{"name": "payments-down", "type": "down", "target": "orders->payments",
                              "applied_s": 10.0, "removed_s": 20.0, "attributes": {"latency": 0}}]


def test_result_json_is_strict_json_even_with_nan_evidence(result: RunResult, history: History) -> None:
    result.checks[0].evidence["ratio"] = float("nan")
    text = json.dumps(result_document(result, build_timeline(history)), allow_nan=False)
    assert json.loads(text)["checks"][0]["evidence"]["ratio"] is None


def test_write_reports_returns_the_three_paths_beside_the_journal(tmp_path: Path, result: RunResult,
                                                                  history: History) -> None:
    paths = write_reports(tmp_path, result, history)
    assert paths == {name: tmp_path / name for name in ("result.json", "junit.xml", "report.html")}
    assert all(p.is_file() for p in paths.values())


def test_the_package_exports_its_public_names() -> None:
    import harness.report as report

    assert set(report.__all__) == {"write_reports", "render_html", "result_document", "build_junit",
                                   "build_timeline", "Timeline"}
