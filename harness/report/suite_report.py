"""A suite's own reports: ``index.html`` (one screen), ``junit.xml`` (one file), ``result.json``."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .html import _environment
from .json_report import finite
from .junit import build_junit

if TYPE_CHECKING:
    from ..suite import SuiteResult


NO_FIGURES: dict[str, Any] = {"requests": None, "error_rate": None, "worst_second_p95_ms": None, "duration_s": None}


def _figures(run_dir: Path) -> dict[str, Any]:
    """Key figures of one run, from its own result.json (requests, error rate, p95 over the load)."""
    try:
        doc = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return dict(NO_FIGURES)
    counts = doc.get("counts") or {}
    seconds = (doc.get("timeline") or {}).get("seconds") or []
    p95 = [s["p95_ms"] for s in seconds if s.get("p95_ms") is not None]
    n = counts.get("requests") or 0
    return {"requests": n, "error_rate": round(counts.get("failures", 0) / n, 4) if n else None,
            "worst_second_p95_ms": max(p95) if p95 else None, "duration_s": doc.get("duration_s")}


def suite_document(suite: "SuiteResult") -> dict[str, Any]:
    runs = []
    for job in suite.jobs:
        r = suite.results.get(job.folder)
        entry: dict[str, Any] = {"run": job.folder, "experiment": job.exp.name, "system": job.exp.target.name,
                                 "defect": job.defect, "experiment_path": str(job.exp.path)}
        if r is None:
            entry.update(status="not run", verdict="unknown", exit_code=None, checks=None, failed_checks=[], figures=dict(NO_FIGURES),
                         report=None, error="not run: the suite stopped before it")
        else:
            entry.update(status=r.status, verdict=r.verdict, exit_code=suite.run_exit_code(job),
                         checks={v: sum(c.verdict == v for c in r.checks) for v in ("passed", "failed", "unknown")},
                         failed_checks=[{"name": c.name, "summary": c.summary} for c in r.checks if c.verdict != "passed"],
                         figures=_figures(r.run_dir), report=f"{job.folder}/report.html", error=r.error)
        runs.append(entry)
    doc: dict[str, Any] = {"kind": "suite", "verdict": suite.verdict, "exit_code": suite.exit_code,
                           "started": suite.started, "finished": suite.finished,
                           "duration_s": round(suite.finished - suite.started, 1), "resilience": suite.score(),
                           "runs": runs, "folder": str(suite.folder), "mutations": [], "defects": None}
    if any(j.defect for j in suite.jobs):
        defects = suite.defects()
        doc["mutations"] = suite.mutations()
        doc["defects"] = {"total": len(defects), "caught": sum(not d["survived"] for d in defects),
                          "survivors": [f"{d['system']}:{d['defect']}" for d in defects if d["survived"]], "table": defects}
    if suite.comparison is not None:
        doc["comparison"] = suite.comparison
    return finite(doc)  # type: ignore[no-any-return]


def build_suite_junit(suite: "SuiteResult") -> ET.ElementTree:
    root = ET.Element("testsuites", name=f"harness suite {suite.folder.name}")
    mutations = {m["run"]: m for m in suite.mutations()}
    for job in suite.jobs:
        r = suite.results.get(job.folder)
        if r is None:
            continue
        if job.defect is None:
            got = build_junit(r).getroot()
            assert got is not None
            suite_el = got
        else:
            # A defect run passes when its defect is caught: its checks are meant to fail.
            m = mutations[job.folder]
            suite_el = ET.Element("testsuite", name=f"{job.exp.name} [defect {job.defect}]", tests="1",
                                  failures=str(int(m["status"] != "caught")), errors="0", skipped="0")
            case = ET.SubElement(suite_el, "testcase", classname=f"harness.{r.system}.defects",
                                 name=f"defect {job.defect} is caught")
            if m["status"] != "caught":
                ET.SubElement(case, "failure", message=f"defect {job.defect}: {m['status']} (verdict {r.verdict})",
                              type=m["status"])
            else:
                ET.SubElement(case, "system-out").text = "; ".join(f"{c['check']}: {c['evidence']}" for c in m["caught_by"])
        suite_el.set("name", job.folder)
        root.append(suite_el)
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root)))
    ET.indent(root)
    return ET.ElementTree(root)


def write_suite_reports(suite: "SuiteResult") -> dict[str, Path]:
    doc = suite_document(suite)
    folder = suite.folder
    (folder / "result.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    build_suite_junit(suite).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    started = datetime.fromtimestamp(suite.started, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if suite.started else "—"
    html = _environment().get_template("suite.html.j2").render(s=doc, started=started, comparison=suite.comparison)
    (folder / "index.html").write_text(html, encoding="utf-8")
    return {"index.html": folder / "index.html", "junit.xml": folder / "junit.xml", "result.json": folder / "result.json"}
