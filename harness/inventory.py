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
    return {"systems": list(systems.values()), "invalid": invalid}


def _rel(path: Any) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
