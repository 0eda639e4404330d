"""Reports for a run whose reports could not all be written (a bug in a renderer).

The promise is four files whatever ends a run. Each report is tried again on its own (the
result now says ``error``), and one that still fails is replaced by a plain version built from
the result alone.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from ..journal import History
from ..result import RunResult
from .html import write_html_report
from .json_report import write_json_report
from .junit import write_junit
from .series import Timeline, build_timeline


def write_fallback_reports(run_dir: Path, result: RunResult, history: History, details: str) -> None:
    timeline: Timeline | None
    try:
        timeline = build_timeline(history)
    except Exception:  # noqa: BLE001 - the plain versions need no timeline
        timeline = None
    try:
        assert timeline is not None
        write_json_report(run_dir / "result.json", result, timeline)
    except Exception:  # noqa: BLE001
        doc = {**result.to_dict(), "run_dir": str(result.run_dir), "report_error": details}
        (run_dir / "result.json").write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    try:
        write_junit(run_dir / "junit.xml", result)
    except Exception:  # noqa: BLE001
        (run_dir / "junit.xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="harness" tests="1" failures="0" errors="1">'
            '<testcase classname="harness" name="run"><error message="the reports could not be written"/>'
            "</testcase></testsuite>\n", encoding="utf-8")
    try:
        assert timeline is not None
        write_html_report(run_dir / "report.html", result, history, timeline)
    except Exception:  # noqa: BLE001
        (run_dir / "report.html").write_text(
            "<!doctype html><meta charset='utf-8'><title>harness run: report error</title>"
            f"<h1>{html.escape(result.experiment)}: {html.escape(result.verdict)} ({html.escape(result.status)})</h1>"
            f"<p>The full report could not be rendered.</p><pre>{html.escape(result.error or '')}\n\n"
            f"{html.escape(details)}</pre>\n", encoding="utf-8")
