"""A reference system's manifest, copied elsewhere with additions: how a user extends a system.

Tests of engine features (invariants, parameters, explore) run the reference systems' real
code under a manifest of their own, so they neither depend on nor edit the manifests under
``targets/`` (those belong to the reference systems and their experiments).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _absolute(value: Any, directory: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{dir}", str(directory))
    if isinstance(value, list):
        return [_absolute(v, directory) for v in value]
    if isinstance(value, dict):
        return {k: _absolute(v, directory) for k, v in value.items()}
    return value


def derive_system(target: str, out_dir: Path, drop: tuple[str, ...] = (), **additions: Any) -> Path:
    """Write ``out_dir/system.yaml``: ``targets/<target>/system.yaml`` runnable from there, plus ``additions``
    (top-level keys; mappings are merged into the system's own, ``services`` per service). Returns its path."""
    directory = ROOT / "targets" / target
    doc = _absolute(yaml.safe_load((directory / "system.yaml").read_text()), directory)
    doc["locustfile"] = str(directory / doc["locustfile"])
    doc.pop("plugins", None)  # the target's own checks are not what these tests judge
    for svc in doc["services"].values():
        svc["cwd"] = str(directory / svc["cwd"]) if svc.get("cwd") else str(directory)
    for key in drop:
        doc.pop(key, None)
    for key, value in additions.items():
        if key == "services":
            for name, extra in value.items():
                for field, v in extra.items():
                    current = doc["services"][name].get(field)
                    doc["services"][name][field] = {**current, **v} if isinstance(current, dict) else v
        elif isinstance(doc.get(key), dict) and isinstance(value, dict):
            doc[key] = {**doc[key], **value}  # defects, parameters, ...: added to the system's own
        else:
            doc[key] = value
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "system.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
