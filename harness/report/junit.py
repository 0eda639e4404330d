"""``junit.xml``: the run as one JUnit test suite, so any CI shows each check as a test.

A ``failed`` check is a ``<failure>``. An ``unknown`` check is an ``<error>``, not a skip:
CI tools count skips as green, and a check that could not decide must not let a release pass.
A run that did not complete gets a testcase ``run`` of its own for the same reason: a suite
of passing checks from a half-run must still read as not green.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from ..checks.registry import CheckResult
from ..result import RunResult

# XML 1.0 cannot carry most control characters even escaped; ElementTree would write them raw
# and produce a file CI parsers reject. Service errors sometimes contain them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _testcase(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=_clean(name), time="0")


def _check_case(suite: ET.Element, classname: str, check: CheckResult) -> None:
    case = _testcase(suite, classname, check.name)
    evidence = _clean(json.dumps(check.evidence, indent=2, ensure_ascii=False, default=str))
    if check.verdict == "failed":
        ET.SubElement(case, "failure", message=_clean(check.summary), type=_clean(check.type)).text = evidence
    elif check.verdict == "unknown":
        ET.SubElement(case, "error", message=_clean(check.summary), type=_clean(check.type)).text = evidence
    out = f"{check.verdict}: {check.summary}"
    if check.description:
        out += f"\n{check.description}"
    ET.SubElement(case, "system-out").text = _clean(out)


def _run_case(suite: ET.Element, classname: str, result: RunResult) -> None:
    case = _testcase(suite, classname, "run")
    reason = result.error or (f"the run was {result.status}" if result.status != "completed"
                              else "no checks were evaluated")
    # An aborted run failed its own steady state: a finding, not a broken harness.
    tag = "failure" if result.status == "aborted" else "error"
    ET.SubElement(case, tag, message=_clean(reason), type=result.status).text = _clean(reason)


def build_junit(result: RunResult) -> ET.ElementTree:
    classname = f"harness.{result.system}"
    duration = max(0.0, result.finished - result.started) if result.finished else 0.0
    suite = ET.Element("testsuite", name=_clean(result.experiment), time=f"{duration:.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("seed", result.seed), ("defect", result.defect or "none"), ("runtime", result.runtime),
                       ("status", result.status), ("verdict", result.verdict),
                       ("experiment_path", result.experiment_path)):
        ET.SubElement(props, "property", name=key, value=_clean(value))
    for check in result.checks:
        _check_case(suite, classname, check)
    if result.status != "completed" or not result.checks:
        _run_case(suite, classname, result)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", "0")
    if result.started:
        suite.set("timestamp", datetime.fromtimestamp(result.started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
    ET.indent(suite)
    return ET.ElementTree(suite)


def write_junit(path: Path, result: RunResult) -> Path:
    build_junit(result).write(path, encoding="utf-8", xml_declaration=True)
    return path
