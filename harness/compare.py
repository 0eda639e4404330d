"""``harness compare BASE NEW``: is NEW worse than BASE, beyond noise and a stated tolerance?

Both folders are runs (``journal.jsonl``) or suites (one run folder per experiment, matched by
folder name). For every endpoint and window present in both (before, during each fault by
name, after), p50/p95/p99 latency and the error rate are compared with bootstrap 95%
intervals (:mod:`harness.data.stats`), after Netflix ChAP's control-vs-experiment reading:

- latency: the interval of the ratio NEW/BASE (independent bootstrap replicates of each) must
  lie entirely above ``1 + latency_ratio`` *and* the interval of the difference entirely
  above ``latency_slack_ms``; a regression is flagged only then. Mirror image: improvement.
- error rate: the interval of the difference NEW - BASE must lie entirely above
  ``error_rate`` (absolute) to be a regression.
- fewer than ``min_requests`` requests on either side: ``insufficient``, never flagged.

So a flagged regression means: with 95% confidence, worse than the baseline by more than the
tolerance. The result is a JSON-friendly dict (``comparison.json``) and an HTML page.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data.stats import LEVEL, interval
from .errors import InputError
from .journal import read_journal
from .report.endpoints import PERCENTILES, EndpointWindow, endpoint_windows

JOURNAL = "journal.jsonl"


@dataclass
class Tolerance:
    latency_ratio: float = 0.10
    """Latency may grow by this share before it counts (0.10: 10%)."""
    latency_slack_ms: float = 1.0
    """...and by this many ms: a 10% change on a 2 ms endpoint is noise."""
    error_rate: float = 0.01
    """The error rate may grow by this much (absolute: 0.01 = one percentage point)."""
    min_requests: int = 20


def _verdict_latency(base: Any, new: Any, tol: Tolerance) -> dict[str, Any]:
    ratio = new.samples / np.maximum(base.samples, 1e-9)
    diff = new.samples - base.samples
    (r_lo, r_hi), (d_lo, d_hi) = interval(ratio), interval(diff)
    if r_lo > 1 + tol.latency_ratio and d_lo > tol.latency_slack_ms:
        verdict = "regression"
    elif r_hi < 1 / (1 + tol.latency_ratio) and d_hi < -tol.latency_slack_ms:
        verdict = "improvement"
    else:
        verdict = "same"
    return {"base": round(base.value, 2), "new": round(new.value, 2), "new_low": round(new.low, 2),
            "new_high": round(new.high, 2), "ratio_low": round(r_lo, 3), "ratio_high": round(r_hi, 3),
            "diff_low": round(d_lo, 2), "diff_high": round(d_hi, 2), "verdict": verdict}


def _verdict_rate(base: Any, new: Any, tol: Tolerance) -> dict[str, Any]:
    d_lo, d_hi = interval(new.samples - base.samples)
    verdict = "regression" if d_lo > tol.error_rate else ("improvement" if d_hi < -tol.error_rate else "same")
    return {"base": round(base.value, 4), "new": round(new.value, 4), "new_low": round(new.low, 4),
            "new_high": round(new.high, 4), "diff_low": round(d_lo, 4), "diff_high": round(d_hi, 4), "verdict": verdict}


def compare_rows(base: list[EndpointWindow], new: list[EndpointWindow], tol: Tolerance,
                 experiment: str = "") -> list[dict[str, Any]]:
    """One row per endpoint and window found in both; metrics with their verdicts."""
    by_key = {r.key: r for r in base}
    rows = []
    for n in new:
        b = by_key.get(n.key)
        if b is None:
            continue
        row: dict[str, Any] = {"experiment": experiment, "endpoint": n.endpoint, "method": n.method, "window": n.window,
                               "base_requests": b.requests, "new_requests": n.requests, "metrics": {}}
        if min(b.requests, n.requests) < tol.min_requests:
            row["verdict"] = "insufficient"
            rows.append(row)
            continue
        if b.error_rate and n.error_rate:
            row["metrics"]["error_rate"] = _verdict_rate(b.error_rate, n.error_rate, tol)
        for q in PERCENTILES:
            if q in b.latency and q in n.latency:
                row["metrics"][f"p{q}_ms"] = _verdict_latency(b.latency[q], n.latency[q], tol)
        verdicts = {m["verdict"] for m in row["metrics"].values()}
        row["verdict"] = "regression" if "regression" in verdicts else ("improvement" if "improvement" in verdicts else "same")
        rows.append(row)
    return rows


def _runs(folder: Path) -> dict[str, Path]:
    """name -> run folder: the folder itself when it is a run, else its run sub-folders."""
    if (folder / JOURNAL).is_file():
        return {"": folder}
    runs = {p.name: p for p in sorted(folder.iterdir()) if (p / JOURNAL).is_file()} if folder.is_dir() else {}
    if not runs:
        raise InputError(f"'{folder}' is neither a run folder (no {JOURNAL}) nor a suite folder (no run folders inside)")
    return runs


def compare_folders(base: str | Path, new: str | Path, tol: Tolerance | None = None) -> dict[str, Any]:
    tol = tol or Tolerance()
    base_runs, new_runs = _runs(Path(base)), _runs(Path(new))
    if "" in base_runs and "" in new_runs:
        pairs = [("", base_runs[""], new_runs[""])]
    elif "" in base_runs or "" in new_runs:
        raise InputError(f"cannot compare a run folder with a suite folder: '{base}' and '{new}'")
    else:
        pairs = [(name, base_runs[name], new_runs[name]) for name in new_runs if name in base_runs]
    rows: list[dict[str, Any]] = []
    for name, b, n in pairs:
        b_hist, n_hist = read_journal(b / JOURNAL), read_journal(n / JOURNAL)
        rows += compare_rows(endpoint_windows(b_hist), endpoint_windows(n_hist), tol,
                             experiment=name or str(n_hist.run.get("experiment", "")))
    regressions = [r for r in rows if r["verdict"] == "regression"]
    return {"base": str(Path(base).resolve()), "new": str(Path(new).resolve()), "level": LEVEL,
            "tolerance": asdict(tol), "rows": rows, "regressions": len(regressions),
            "improvements": sum(r["verdict"] == "improvement" for r in rows),
            "unmatched": {"only_in_base": sorted(set(base_runs) - set(new_runs)),
                          "only_in_new": sorted(set(new_runs) - set(base_runs))}}


def describe_row(r: dict[str, Any]) -> str:
    parts = []
    for metric, m in r["metrics"].items():
        if m["verdict"] == r["verdict"]:
            parts.append(f"{metric} {m['base']:g} -> {m['new']:g}")
    where = f"{r['experiment']}: " if r["experiment"] else ""
    return f"{where}{r['method']} {r['endpoint']} [{r['window']}] {r['verdict']}: " + ", ".join(parts)


def write_comparison(doc: dict[str, Any], out: Path) -> dict[str, Path]:
    from .report.compare_html import write_comparison_html

    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return {"comparison.json": out / "comparison.json", "comparison.html": write_comparison_html(doc, out / "comparison.html")}
