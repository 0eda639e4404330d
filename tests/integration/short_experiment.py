"""Shortened copies of reference experiments, for the suites that cannot afford the whole timeline.

A copy keeps some of the experiment's faults, each re-timed (``{fault: new start}``), appends
faults and checks of its own if asked, and ends its load the same time after its last fault as
the original did (so the ``after`` window and the recovery checks keep their length). Checks
whose windows or anchors name a fault the copy dropped are dropped with it; every other check,
the steady state, the seed and the load mix are the experiment's own. The copy is written
outside the catalogue (with the schemas its checks name) and run with ``--catalog`` pointing at
the checkout.
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.durations import parse_duration

ROOT = Path(__file__).resolve().parents[2]


def _seconds(value: Any) -> float:
    return float(parse_duration(value))


def _fmt(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _names_faults(value: Any, faults: set[str]) -> bool:
    """Whether a check (any nesting) anchors on one of ``faults`` (during/after/fault keys)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if key in ("during", "after", "fault") and isinstance(sub, str) and sub in faults:
                return True
            if _names_faults(sub, faults):
                return True
    elif isinstance(value, list):
        return any(_names_faults(v, faults) for v in value)
    return False


def shorten(experiment: str, keep: dict[str, str], out_dir: Path, *, extra_faults: Sequence[dict[str, Any]] = (),
            extra_checks: Sequence[dict[str, Any]] = ()) -> Path:
    """Write the shortened copy of ``experiment`` (a path under the checkout) into ``out_dir``."""
    doc = yaml.safe_load((ROOT / experiment).read_text())
    faults = doc.get("faults") or []
    original_end = max(_seconds(f["start"]) + _seconds(f.get("duration", 0)) for f in faults)
    tail = _seconds(doc["load"]["duration"]) - original_end
    unknown = set(keep) - {f["name"] for f in faults}
    if unknown:
        raise ValueError(f"{experiment}: no faults named {sorted(unknown)}")
    kept = []
    for fault in faults:
        if fault["name"] in keep:
            kept.append({**fault, "start": keep[fault["name"]]})
    kept += list(extra_faults)
    dropped = {f["name"] for f in faults} - set(keep)
    end = max(_seconds(f["start"]) + _seconds(f.get("duration", 0)) for f in kept)
    doc["faults"] = kept
    doc["checks"] = [c for c in doc.get("checks") or [] if not _names_faults(c, dropped)] + list(extra_checks)
    doc["load"]["duration"] = _fmt(end + tail)
    doc["description"] = (f"A shortened copy of {experiment} (faults {', '.join(f['name'] for f in kept)}). "
                          + str(doc.get("description", "")))
    out_dir.mkdir(parents=True, exist_ok=True)
    schemas = (ROOT / experiment).parent / "schemas"  # checks name their JSON schemas relative to the file
    if schemas.is_dir():
        shutil.copytree(schemas, out_dir / "schemas", dirs_exist_ok=True)
    path = out_dir / Path(experiment).name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
