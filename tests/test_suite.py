"""Suites without processes: the runner is replaced by a fake that returns chosen verdicts.

Planning (validation before anything runs), the resilience score, the mutation table, the
one exit code, one junit.xml and the index are judged here; a real suite runs in
tests/integration/test_suite_experiment.py.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import harness.suite as suite_mod
from harness.checks.registry import CheckResult
from harness.errors import InputError
from harness.result import RunResult
from harness.runner import RunOptions
from harness.suite import plan, run_suite

ROOT = Path(__file__).resolve().parents[1]
CB = ROOT / "experiments" / "circuit-breaker.yaml"
KILLED = ROOT / "experiments" / "circuit-breaker-payments-killed.yaml"


def fake_runner(outcomes: dict[str, dict[str, str]], status: dict[str, str] | None = None,
                default: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """run folder name -> {check name: verdict}; runs not named get ``default`` (every check passed)."""
    def run(exp: Any, opts: RunOptions) -> RunResult:
        assert opts.out is not None
        name = opts.out.name
        opts.out.mkdir(parents=True, exist_ok=True)
        verdicts = outcomes.get(name, default or {"opens": "passed", "fast": "passed"})
        checks = [CheckResult(n, "error_rate", v, f"{n} was {v}", {}) for n, v in verdicts.items()]
        result = RunResult(experiment=exp.name, system=exp.target.name, run_dir=opts.out, seed=1, runtime="local",
                           defect=opts.defect, checks=checks, status=(status or {}).get(name, "completed"),  # type: ignore[arg-type]
                           started=1.0, finished=2.0)
        (opts.out / "result.json").write_text(json.dumps({"counts": {"requests": 100, "failures": 3}, "duration_s": 45.0,
                                                          "timeline": {"seconds": [{"p95_ms": 12.5}, {"p95_ms": 80.0}]}}))
        return result
    return run


def test_a_directory_is_its_yaml_files_and_a_bad_file_stops_the_suite_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\nsystem: nowhere\n")
    with pytest.raises(InputError) as caught:
        plan([CB, tmp_path], defects=False)
    assert "bad.yaml" in str(caught.value)


def test_defects_add_one_run_per_declared_defect_named_after_experiment_and_defect() -> None:
    jobs = plan([CB], defects=True)
    defects = list(jobs[0].exp.target.defects)
    assert "breaker-disabled" in defects
    assert [j.folder for j in jobs] == ["circuit-breaker", *(f"circuit-breaker-{d}" for d in defects)]


def test_two_files_with_one_experiment_name_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(CB.read_text().replace("system: circuit-breaker", f"system: {ROOT / 'targets/circuit-breaker/system.yaml'}"))
    with pytest.raises(InputError, match="share the name 'circuit-breaker'"):
        plan([CB, copy], defects=False)


def test_score_mutations_exit_code_junit_and_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite_mod, "run_experiment", fake_runner({
        "circuit-breaker": {"opens": "passed", "fast": "passed"},
        "circuit-breaker-breaker-disabled": {"opens": "failed", "fast": "passed"},
        "circuit-breaker-payments-killed": {"opens": "passed", "fast": "unknown"},
        "circuit-breaker-payments-killed-breaker-disabled": {"opens": "passed", "fast": "unknown"},
    }, default={"opens": "failed", "fast": "passed"}))  # any other declared defect: caught by 'opens' where it can be
    s = run_suite(plan([CB, KILLED], defects=True), out=tmp_path / "suite")
    # Declared: each experiment's checks + 2 x its steady-state conditions; only sound runs count.
    sound = [j.exp for j in s.jobs if j.defect is None]
    declared = sum(len(e.checks) + 2 * len(e.steady_state.conditions) for e in sound)
    assert s.score() == {"score": round(100 * 3 / declared, 1), "passed": 3, "declared": declared,
                         "formula": "100 x passed / declared checks and steady-state conditions, sound runs only"}
    statuses = {m["run"]: m["status"] for m in s.mutations()}
    assert statuses["circuit-breaker-breaker-disabled"] == "caught"
    assert statuses["circuit-breaker-payments-killed-breaker-disabled"] == "inconclusive"
    caught = next(m for m in s.mutations() if m["run"] == "circuit-breaker-breaker-disabled")
    assert caught["caught_by"] == [{"check": "opens", "type": "error_rate", "evidence": "opens was failed"}]
    disabled = next(d for d in s.defects() if d["defect"] == "breaker-disabled")
    assert disabled == {"system": "circuit-breaker", "defect": "breaker-disabled", "caught_by": ["circuit-breaker: opens"],
                        "experiments": ["circuit-breaker", "circuit-breaker-payments-killed"], "survived": False}
    assert s.exit_code == 1  # the killed experiment's sound run is unknown
    doc = json.loads((tmp_path / "suite" / "result.json").read_text())
    assert doc["exit_code"] == 1 and doc["defects"]["caught"] == len(s.defects()) and len(doc["runs"]) == len(s.jobs)
    assert doc["runs"][0]["figures"] == {"requests": 100, "error_rate": 0.03, "worst_second_p95_ms": 80.0, "duration_s": 45.0}
    root = ET.parse(tmp_path / "suite" / "junit.xml").getroot()
    assert root.tag == "testsuites" and [t.get("name") for t in root] == [j.folder for j in s.jobs]
    by_name = {t.get("name"): t for t in root}
    defect_case = by_name["circuit-breaker-breaker-disabled"].find("testcase")
    assert defect_case is not None and defect_case.get("name") == "defect breaker-disabled is caught"
    assert defect_case.find("failure") is None
    assert by_name["circuit-breaker-payments-killed-breaker-disabled"].find("testcase/failure") is not None
    html = (tmp_path / "suite" / "index.html").read_text()
    assert 'href="circuit-breaker/report.html"' in html and "Mutation table" in html and "<script" not in html


def test_a_surviving_defect_fails_the_suite_even_when_every_sound_run_passes(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite_mod, "run_experiment", fake_runner({}, default={"opens": "passed"}))
    s = run_suite(plan([CB], defects=True), out=tmp_path / "suite")
    assert {m["status"] for m in s.mutations()} == {"survived"} and all(d["survived"] for d in s.defects())
    assert s.exit_code == 1


def test_an_interrupt_stops_the_suite_and_the_exit_code_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite_mod, "run_experiment", fake_runner(
        {"circuit-breaker": {"opens": "passed"}}, status={"circuit-breaker": "interrupted"}))
    s = run_suite(plan([CB, KILLED], defects=False), out=tmp_path / "suite")
    assert list(s.results) == ["circuit-breaker"] and s.exit_code == 130
    doc = json.loads((tmp_path / "suite" / "result.json").read_text())
    assert doc["runs"][1]["status"] == "not run"
