"""Where built-in target systems and experiments live, and how a system reference resolves.

A system reference in an experiment is either a built-in name (``circuit-breaker`` ->
``targets/circuit-breaker/system.yaml``) or a path to a manifest, relative to the experiment
file. ``HARNESS_TARGETS`` adds directories to search (os.pathsep separated).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def targets_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("HARNESS_TARGETS", "").split(os.pathsep) if p]
    return extra + [REPO_ROOT / "targets"]


def experiments_dir() -> Path:
    return REPO_ROOT / "experiments"


def builtin_systems() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base in targets_dirs():
        if base.is_dir():
            for manifest in sorted(base.glob("*/system.yaml")):
                found.setdefault(manifest.parent.name, manifest)
    return found


def resolve_system(reference: str, relative_to: Path) -> Path | None:
    """Return the manifest path for a reference, or None if nothing matches."""
    candidate = (relative_to / reference)
    if candidate.is_file():
        return candidate.resolve()
    if candidate.is_dir() and (candidate / "system.yaml").is_file():
        return (candidate / "system.yaml").resolve()
    return builtin_systems().get(reference)
