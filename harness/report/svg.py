"""A tiny SVG chart helper: line/area charts and a Gantt band on a shared seconds axis.

Drawn in Python rather than with a JS charting library so the HTML report stays one
self-contained file that opens offline, in a CI artifact viewer, years later. Every chart
uses the same width and margins, so charts stacked in the page line up second for second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

WIDTH = 1000
LEFT, RIGHT = 64, 16
PLOT_W = WIDTH - LEFT - RIGHT


@dataclass
class Series:
    """One value per second (``None`` = no data, which breaks the line instead of faking 0)."""

    label: str
    color: str
    values: Sequence[float | None]
    area: bool = False


@dataclass
class Band:
    """A shaded stretch of the x axis (a fault window), in seconds."""

    start: float
    end: float
    color: str
    label: str


def nice_ticks(vmax: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``vmax`` (steps of 1, 2 or 5 times a power of ten)."""
    if vmax <= 0:
        vmax = 1.0
    raw = vmax / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    n = math.ceil(vmax / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def _fmt(v: float) -> str:
    return f"{v:g}" if v == int(v) or abs(v) >= 10 else f"{v:.1f}"


def _sx(x: float, x_max: float) -> float:
    return LEFT + max(0.0, min(x, x_max)) / x_max * PLOT_W


def _x_axis(x_max: float, y0: float, y1: float) -> list[str]:
    out = []
    for t in nice_ticks(x_max, 10):
        if t > x_max + 1e-9:
            break
        x = _sx(t, x_max)
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{y1 + 16}" text-anchor="middle">{_fmt(t)}s</text>')
    return out


def _bands(bands: Sequence[Band], x_max: float, y0: float, y1: float) -> list[str]:
    out = []
    for b in bands:
        x0, x1 = _sx(b.start, x_max), _sx(b.end, x_max)
        out.append(f'<rect x="{x0:.1f}" y="{y0}" width="{max(x1 - x0, 1):.1f}" height="{y1 - y0}" '
                   f'fill="{b.color}" fill-opacity="0.10"><title>{escape(b.label)}</title></rect>')
        out.append(f'<line x1="{x0:.1f}" y1="{y0}" x2="{x0:.1f}" y2="{y1}" stroke="{b.color}" '
                   f'stroke-opacity="0.5" stroke-dasharray="3 3"/>')
    return out


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Contiguous stretches of known values: a gap in data must show as a gap."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, v))
    return [r for r in runs if r]


def _series(s: Series, x_max: float, y_top: float, y_base: float, y_max: float) -> list[str]:
    out = []
    for run in _runs(s.values):
        pts = [(_sx(i + 0.5, x_max), y_base - min(v, y_max) / y_max * (y_base - y_top)) for i, v in run]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        if s.area:
            out.append(f'<polygon points="{pts[0][0]:.1f},{y_base} {path} {pts[-1][0]:.1f},{y_base}" '
                       f'fill="{s.color}" fill-opacity="0.22"/>')
        if len(pts) == 1:
            out.append(f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="2" fill="{s.color}"/>')
        else:
            out.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="1.6" '
                       f'stroke-linejoin="round"/>')
    return out


def _legend(series: Sequence[Series]) -> list[str]:
    out, x = [], float(WIDTH - RIGHT)
    for s in reversed(series):
        x -= 7 * len(s.label) + 26
        out.append(f'<rect x="{x:.0f}" y="4" width="12" height="4" rx="1" fill="{s.color}"/>'
                   f'<text class="legend" x="{x + 17:.0f}" y="10">{escape(s.label)}</text>')
    return out


def line_chart(series: Sequence[Series], *, x_max: float, unit: str = "", height: int = 170,
               bands: Sequence[Band] = (), hover: Sequence[str] = (), y_floor: float = 1.0) -> str:
    """An SVG chart of per-second series; ``hover`` gives one tooltip per second."""
    x_max = max(x_max, 1.0)
    top, base = 20.0, float(height - 26)
    known = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(max(known + [y_floor]))
    y_max = ticks[-1]
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img">']
    out += _bands(bands, x_max, top, base)
    for t in ticks:
        y = base - t / y_max * (base - top)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}{escape(unit)}</text>')
    out += _x_axis(x_max, top, base)
    for s in series:
        out += _series(s, x_max, top, base, y_max)
    out.append(f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>')
    step = PLOT_W / x_max
    for i, tip in enumerate(hover):
        out.append(f'<rect class="hover" x="{LEFT + i * step:.1f}" y="{top}" width="{step:.2f}" '
                   f'height="{base - top}"><title>{escape(tip)}</title></rect>')
    out += _legend(series)
    out.append("</svg>")
    return "\n".join(out)


@dataclass
class GanttRow:
    label: str
    start: float
    end: float | None  # None: still applied when the journal ends
    color: str
    tooltip: str = ""


def gantt(rows: Sequence[GanttRow], *, x_max: float, row_h: int = 28) -> str:
    """One bar per fault on the same x axis as the charts below it."""
    x_max = max(x_max, 1.0)
    top, base = 6, 6 + row_h * max(len(rows), 1)
    height = base + 26
    out = [f'<svg class="chart gantt" viewBox="0 0 {WIDTH} {height}" role="img">']
    out += _x_axis(x_max, top, base)
    for i, r in enumerate(rows):
        y = top + i * row_h + 4
        x0 = _sx(r.start, x_max)
        x1 = _sx(r.end if r.end is not None else x_max, x_max)
        w = max(x1 - x0, 2.0)
        tip = escape(r.tooltip or r.label)
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 8}" rx="3" fill="{r.color}" '
                   f'fill-opacity="0.85"><title>{tip}</title></rect>')
        label = r.label + ("  (never removed)" if r.end is None else "")
        text_w = 6.8 * len(label)  # rough width of 12px sans-serif; only used to place the label
        if text_w + 12 <= w:
            pos, cls = f'x="{x0 + 8:.1f}"', "bar-label"
        elif x1 + 8 + text_w <= WIDTH - RIGHT:
            pos, cls = f'x="{x1 + 6:.1f}"', "bar-label outside"
        else:
            pos, cls = f'x="{x0 - 6:.1f}" text-anchor="end"', "bar-label outside"
        out.append(f'<text class="{cls}" {pos} y="{y + row_h / 2:.1f}">{escape(label)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>')
    out.append("</svg>")
    return "\n".join(out)


def is_point_list(v: object) -> bool:
    """A time series in evidence: at least two ``[seconds, value]`` pairs of numbers."""
    return (isinstance(v, list) and len(v) >= 2 and all(
        isinstance(p, (list, tuple)) and len(p) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p) for p in v))


def sparkline(points: Sequence[Sequence[float]], width: int = 220, height: int = 40) -> str:
    """A small inline line of ``[seconds, value]`` points, its range in the tooltip and beside it."""
    xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
    x0, x1, lo, hi = min(xs), max(xs), min(ys), max(ys)
    # The y axis includes zero: 16.0 to 16.01 must look flat, not like a spike.
    y_lo, y_hi = min(lo, 0.0), max(hi, 0.0)
    span_x, span_y = (x1 - x0) or 1.0, (y_hi - y_lo) or 1.0
    pad = 3.0

    def at(x: float, y: float) -> str:
        fy = (y - y_lo) / span_y
        return f"{pad + (x - x0) / span_x * (width - 2 * pad):.1f},{height - pad - fy * (height - 2 * pad):.1f}"

    path = " ".join(at(x, y) for x, y in zip(xs, ys))
    tip = escape(f"{len(ys)} points, {_fmt(x0)}s to {_fmt(x1)}s; min {lo:.4g}, max {hi:.4g}")
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f'<title>{tip}</title><polyline points="{path}" fill="none" stroke="#1c7ed6" stroke-width="1.5" '
            f'stroke-linejoin="round"/></svg><span class="spark-range">{lo:.4g} … {hi:.4g}</span>')
