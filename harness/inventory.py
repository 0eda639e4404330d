"""What ships: built-in systems, their edges and defects, and the experiments that use them."""
from __future__ import annotations

from typing import Any

from .catalog import REPO_ROOT, builtin_systems, experiments_dir
from .errors import InputError


def inventory() -> dict[str, Any]:
    from .experiment import load_experiment
    from .system import load_system

    systems: dict[str, dict[str, Any]] = {}
    invalid: list[dict[str, str]] = []
    for manifest in builtin_systems().values():
        try:
            spec = load_system(manifest)
        except InputError as exc:
            invalid.append({"path": str(manifest), "error": exc.render()})
            continue
        systems[spec.name] = {
            "name": spec.name, "description": spec.description, "manifest": _rel(manifest),
            "services": list(spec.services), "edges": list(spec.edges),
            "defects": [{"name": d, "description": s.description} for d, s in spec.defects.items()],
            "experiments": [],
        }
    for path in sorted(experiments_dir().glob("*.yaml")):
        try:
            exp = load_experiment(path)
        except InputError as exc:
            invalid.append({"path": _rel(path), "error": exc.render()})
            continue
        entry = systems.get(exp.target.name)
        if entry is not None:
            entry["experiments"].append({"name": exp.name, "path": _rel(path), "description": exp.description,
                                         "faults": [f.type for f in exp.faults]})
    return {"systems": list(systems.values()), "fault_types": fault_types(), "invalid": invalid}


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


def _rel(path: Any) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
