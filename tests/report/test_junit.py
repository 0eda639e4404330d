import xml.etree.ElementTree as ET
from pathlib import Path

from harness.journal import History
from harness.report import write_reports
from harness.result import RunResult

# the same string the synthetic run's unknown check uses as its summary (conftest.py)
NASTY = """<script>alert("x") & 'y'</script>"""


def parse(tmp_path: Path, result: RunResult, history: History) -> ET.Element:
    return ET.parse(write_reports(tmp_path, result, history)["junit.xml"]).getroot()


def test_one_testcase_per_check_with_failure_for_failed_and_error_for_unknown(
        tmp_path: Path, result: RunResult, history: History) -> None:
    suite = parse(tmp_path, result, history)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in result.checks]
    assert {c.get("classname") for c in cases} == {"harness.circuit-breaker"}
    kinds = [("failure" if c.find("failure") is not None else "error" if c.find("error") is not None else "ok")
             for c in cases]
    assert kinds == ["ok", "failure", "error", "ok"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("type") == "event_within" and '"bound_s": 2.0' in (failure.text or "")


def test_special_characters_are_escaped_and_survive_a_round_trip(tmp_path: Path, result: RunResult,
                                                                 history: History) -> None:
    raw = write_reports(tmp_path, result, history)["junit.xml"].read_text(encoding="utf-8")
    assert "<script>" not in raw and "&lt;script&gt;" in raw and "fallback &amp; &lt;quality&gt;" in raw
    error = ET.fromstring(raw).findall("testcase")[2].find("error")
    assert error is not None and error.get("message") == NASTY


def test_properties_record_how_to_replay_the_run(tmp_path: Path, result: RunResult, history: History) -> None:
    props = {p.get("name"): p.get("value") for p in parse(tmp_path, result, history).iter("property")}
    assert props["seed"] == "42" and props["defect"] == "breaker_disabled"
    assert (props["runtime"], props["status"], props["verdict"]) == ("local", "completed", "failed")


def test_an_interrupted_run_without_checks_is_one_error_not_an_empty_green_suite(
        tmp_path: Path, result: RunResult, history: History) -> None:
    result.checks, result.status, result.error = [], "interrupted", "interrupted by SIGINT"
    (case,) = parse(tmp_path, result, history).findall("testcase")
    error = case.find("error")
    assert case.get("name") == "run" and error is not None and error.get("message") == "interrupted by SIGINT"


def test_an_errored_run_with_passing_checks_still_has_an_error(tmp_path: Path, result: RunResult,
                                                               history: History) -> None:
    result.checks = [c for c in result.checks if c.verdict == "passed"]
    result.status, result.error_kind = "error", "environment"
    suite = parse(tmp_path, result, history)
    assert suite.get("errors") == "1" and suite.findall("testcase")[-1].get("name") == "run"


def test_control_characters_do_not_break_the_xml(tmp_path: Path, result: RunResult, history: History) -> None:
    result.checks[1].summary = "reset by peer\x00\x1b[0m"
    failure = parse(tmp_path, result, history).findall("testcase")[1].find("failure")
    assert failure is not None and (failure.get("message") or "").startswith("reset by peer")
