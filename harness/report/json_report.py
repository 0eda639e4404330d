"""``result.json``: the machine-readable result, for scripts and dashboards.

The run's result (verdict, checks, evidence) plus what a dashboard needs to redraw the run
without parsing the journal: the per-second series and the faults' actual windows.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..result import RunResult
from .series import Timeline


def finite(value: Any) -> Any:
    """NaN and infinity as null: ``json.dumps`` would write bare NaN, which is not JSON and
    breaks the strict parsers (jq, JSON.parse) CI scripts use."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def result_document(result: RunResult, timeline: Timeline, endpoints: list[dict[str, Any]] | None = None,
                    comparison: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = result.to_dict()
    doc["run_dir"] = str(result.run_dir)
    doc["timeline"] = timeline.to_dict()
    doc["faults"] = [asdict(f) for f in timeline.faults]
    doc["endpoints"] = endpoints or []
    if comparison is not None:
        doc["comparison"] = comparison
    return finite(doc)  # type: ignore[no-any-return]


def write_json_report(path: Path, result: RunResult, timeline: Timeline, endpoints: list[dict[str, Any]] | None = None,
                      comparison: dict[str, Any] | None = None) -> Path:
    text = json.dumps(result_document(result, timeline, endpoints, comparison), indent=2, ensure_ascii=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    return path
