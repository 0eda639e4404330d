"""Reports of a finished run: ``result.json``, ``junit.xml`` and ``report.html``.

Reports read only the finished journal (as a :class:`~harness.journal.History`) and the
:class:`~harness.result.RunResult` built from it, so any run folder can be re-rendered later
from its ``journal.jsonl``. All three are drawn from one :class:`~.series.Timeline`, so the
JSON timeline and the HTML charts cannot disagree.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..journal import History
from ..result import RunResult
from .endpoints import endpoint_windows
from .html import render_html, write_html_report
from .json_report import result_document, write_json_report
from .junit import build_junit, write_junit
from .series import Timeline, build_timeline

__all__ = ["write_reports", "render_html", "result_document", "build_junit", "build_timeline", "Timeline"]


def write_reports(run_dir: Path, result: RunResult, history: History,
                  comparison: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the three reports into ``run_dir`` (beside ``journal.jsonl``); return their paths.

    ``comparison`` (from :mod:`harness.compare`, with ``--baseline``) is shown and stored too.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    timeline = build_timeline(history)
    endpoints = [e.to_dict() for e in endpoint_windows(history)]
    return {
        "result.json": write_json_report(run_dir / "result.json", result, timeline, endpoints, comparison),
        "junit.xml": write_junit(run_dir / "junit.xml", result),
        "report.html": write_html_report(run_dir / "report.html", result, history, timeline, endpoints, comparison),
    }
