"""``report.html``: the page a person reads after a run, one self-contained file.

No external scripts, styles or fonts: the report must open from a CI artifact, offline, and
must not phone home. Charts are inline SVG from :mod:`.svg`; everything from the journal or
the target (names, summaries, evidence, event fields) goes through jinja2's autoescaping.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..journal import History
from ..result import RunResult
from .series import Timeline
from .svg import Band, GanttRow, Series, gantt, is_point_list, line_chart, sparkline

TEMPLATES = Path(__file__).parent / "templates"
FAULT_COLORS = ["#d9480f", "#7048e8", "#0c8599", "#c2255c", "#e67700", "#2f9e44"]
GROUPS = {"checks": "check", "steady_state.before": "steady state · before",
          "steady_state.after": "steady state · after"}
MAX_EVENT_ROWS = 500
MAX_EVIDENCE_ROWS = 50


def fmt_num(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:,.3f}".rstrip("0").rstrip(".") if v != int(v) else f"{v:,.0f}"
    return f"{v:,}"


def table_columns(rows: Any) -> list[str] | None:
    """Columns for a list of dicts, so evidence such as per-window samples reads as a table."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return None
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols if len(cols) <= 10 else None


def is_scalar_list(v: Any) -> bool:
    return isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v)


def pretty_json(v: Any) -> str:
    return json.dumps(v, indent=2, ensure_ascii=False, default=str)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(fmt_num=fmt_num, pretty_json=pretty_json, table_columns=table_columns,
                       sparkline=lambda v: Markup(sparkline(v)))  # svg.sparkline escapes its own text
    env.tests["scalar_list"] = is_scalar_list
    env.tests["point_list"] = is_point_list
    return env


def _fault_color(i: int) -> str:
    return FAULT_COLORS[i % len(FAULT_COLORS)]


def _attrs(attributes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in attributes.items())


def charts(tl: Timeline) -> dict[str, Markup]:
    """The SVGs, marked safe: :mod:`.svg` escapes every text it draws itself."""
    x_max = tl.duration_s
    bands, rows = [], []
    for i, f in enumerate(tl.faults):
        if f.applied_s is None:
            continue
        end = f.removed_s if f.removed_s is not None else x_max
        tip = f"{f.name}: {f.type} on {f.target} ({_attrs(f.attributes)}), {f.applied_s:g}s to " \
              f"{'end of load' if f.removed_s is None else f'{f.removed_s:g}s'}"
        bands.append(Band(f.applied_s, end, _fault_color(i), tip))
        rows.append(GanttRow(f"{f.name} · {f.type} → {f.target}", f.applied_s, f.removed_s, _fault_color(i), tip))
    b = tl.buckets
    hover = [f"{x.second}-{x.second + 1}s: {x.requests} req, {x.failures} failed, {x.indeterminate} indeterminate"
             + (f", p50 {x.p50_ms:g} ms, p95 {x.p95_ms:g} ms, max {x.max_ms:g} ms" if x.requests else "")
             for x in b]
    common: dict[str, Any] = {"x_max": x_max, "bands": bands, "hover": hover}
    throughput = line_chart([Series("requests/s", "#1c7ed6", [x.requests for x in b], area=True),
                             Series("indeterminate/s", "#f59f00", [x.indeterminate for x in b]),
                             Series("failures/s", "#e03131", [x.failures for x in b], area=True)],
                            unit="/s", **common)
    errors = line_chart([Series("failed %", "#e03131", [x.failure_pct for x in b], area=True),
                         Series("indeterminate %", "#f59f00", [x.indeterminate_pct for x in b])],
                        unit="%", y_floor=5.0, **common)
    # p50 drawn last: when the two coincide, the typical latency must stay visible on top.
    latency = line_chart([Series("p95", "#7048e8", [x.p95_ms for x in b], area=True),
                          Series("p50", "#1c7ed6", [x.p50_ms for x in b])], unit=" ms", **common)
    return {"gantt": Markup(gantt(rows, x_max=x_max)), "throughput": Markup(throughput),
            "errors": Markup(errors), "latency": Markup(latency)}


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if epoch else "—"


def render_html(result: RunResult, history: History, timeline: Timeline) -> str:
    counts = {"requests": len(history.requests),
              "failures": history.requests.failed,
              "indeterminate": history.requests.indeterminate,
              "events": len(history.events), "faults": len(timeline.faults)}
    counts.update({k: v for k, v in result.counts.items() if k not in counts})
    verdicts = {v: sum(1 for c in result.checks if c.verdict == v) for v in ("passed", "failed", "unknown")}
    duration = result.finished - result.started if result.finished and result.started else None
    ctx = {
        "r": result, "verdict": result.verdict, "verdicts": verdicts, "counts": counts,
        "groups": GROUPS, "duration": duration, "started": _when(result.started), "timeline": timeline,
        "charts": charts(timeline) if timeline.buckets else None,
        "faults": [(f, _fault_color(i), _attrs(f.attributes)) for i, f in enumerate(timeline.faults)],
        "events": timeline.events[:MAX_EVENT_ROWS], "events_total": len(timeline.events),
        "max_rows": MAX_EVIDENCE_ROWS,
        "matrix": result.extra.get("matrix"),
    }
    return _environment().get_template("report.html.j2").render(**ctx)


def write_html_report(path: Path, result: RunResult, history: History, timeline: Timeline) -> Path:
    path.write_text(render_html(result, history, timeline), encoding="utf-8")
    return path
