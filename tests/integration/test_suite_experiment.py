"""A real suite: a shortened circuit-breaker experiment, sound and with its defect, in one folder.

`harness mutate --all` (every system, every defect) runs under `make test-full`.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]


def short_breaker(tmp_path: Path) -> Path:
    text = (ROOT / "experiments" / "circuit-breaker.yaml").read_text()
    text = text.replace("duration: 45s", "duration: 30s").replace("start: 12s", "start: 8s").replace("duration: 15s", "duration: 10s")
    path = tmp_path / "experiments" / "circuit-breaker.yaml"
    path.parent.mkdir()
    path.write_text(text)
    return path


@pytest.mark.integration
def test_a_suite_with_defects_catches_the_breaker_defect_in_one_folder(tmp_path: Path) -> None:
    exp = short_breaker(tmp_path)
    out = tmp_path / "suite"
    code = main(["run", str(exp.parent), "--defects", "--out", str(out), "--quiet"])
    doc = json.loads((out / "result.json").read_text())
    runs = [r["run"] for r in doc["runs"]]
    assert runs[0] == "circuit-breaker" and "circuit-breaker-breaker-disabled" in runs
    m = next(m for m in doc["mutations"] if m["defect"] == "breaker-disabled")
    assert m["status"] == "caught" and m["caught_by"], m
    assert code == doc["exit_code"]
    assert (out / "circuit-breaker" / "report.html").is_file() and (out / "index.html").is_file()
    suites = ET.parse(out / "junit.xml").getroot()
    assert [s.get("name") for s in suites] == runs
    # The suite folder is a baseline for the next one; comparing it with itself flags nothing.
    assert main(["compare", str(out), str(out), "--out", str(tmp_path / "cmp"), "--fail-on-regression"]) == 0


@pytest.mark.integration
@pytest.mark.full
def test_mutate_all_catches_every_declared_defect(tmp_path: Path) -> None:
    code = main(["mutate", "--all", "--out", str(tmp_path / "mutate"), "--quiet"])
    table = json.loads((tmp_path / "mutate" / "mutation.json").read_text())
    survivors = [d for d in table["defects"] if d["survived"]]
    assert not survivors, survivors
    assert code == 0
