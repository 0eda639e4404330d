"""What the catalogue holds: its systems, their edges and defects, and the experiments that use them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .catalog import builtin_systems, experiments_dirs, missing_hint, targets_dirs
from .errors import InputError


def inventory() -> dict[str, Any]:
    """Systems and experiments of the catalogues in use (see ``harness.catalog``); ``searched`` says where."""
    from .experiment import load_experiment
    from .system import load_system

    systems: dict[str, dict[str, Any]] = {}
    invalid: list[dict[str, str]] = []
    for manifest in builtin_systems().values():
        try:
            spec = load_system(manifest)
        except InputError as exc:
            invalid.append({"path": _rel(manifest), "error": exc.render()})
            continue
        systems[spec.name] = {
            "name": spec.name, "description": spec.description, "manifest": _rel(manifest),
            "services": list(spec.services), "edges": list(spec.edges),
            "defects": [{"name": d, "description": s.description} for d, s in spec.defects.items()],
            "experiments": [],
        }
    for path in sorted(p for d in experiments_dirs() for p in d.glob("*.yaml")):
        try:
            exp = load_experiment(path)
        except InputError as exc:
            invalid.append({"path": _rel(path), "error": exc.render()})
            continue
        entry = systems.get(exp.target.name)
        if entry is not None:
            entry["experiments"].append({"name": exp.name, "path": _rel(path), "description": exp.description,
                                         "faults": [f.type for f in exp.faults]})
    out: dict[str, Any] = {"systems": list(systems.values()), "fault_types": fault_types(), "invalid": invalid,
                           "searched": [_rel(d) for d in targets_dirs()]}
    if not systems:
        out["hint"] = missing_hint()
    return out


def fault_types() -> list[dict[str, Any]]:
    """Every registered fault type: what it targets, how toxicity is drawn, its attributes."""
    from .faults import FAULT_TYPES

    out = []
    for name in FAULT_TYPES.names():
        kind = FAULT_TYPES.get(name)
        schema = kind.Attributes.model_json_schema()
        required = set(schema.get("required", []))
        attributes = {field: {"required": field in required,
                              **{k: v for k, v in spec.items() if k in ("default", "description", "enum")}}
                      for field, spec in schema.get("properties", {}).items()}
        toxicity = ("per request" if kind.per_request else "per connection") if kind.per_connection else None
        out.append({"name": name, "target": kind.target_kind, "description": _first_paragraph(kind.__doc__),
                    "toxicity": toxicity, "stream": kind.default_stream if kind.per_connection else None,
                    "needs": "toxiproxy-server built from toxiproxy/ (make tools)" if kind.needs_http_toxics else None,
                    "attributes": attributes})
    return out


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _rel(path: Path) -> str:
    """Relative to the current directory when under it (what a user typed), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())
