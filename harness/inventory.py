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
    out: dict[str, Any] = {"systems": list(systems.values()), "invalid": invalid,
                           "searched": [_rel(d) for d in targets_dirs()]}
    if not systems:
        out["hint"] = missing_hint()
    return out


def _rel(path: Path) -> str:
    """Relative to the current directory when under it (what a user typed), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())
