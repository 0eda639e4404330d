"""The catalogue: where built-in target systems and experiments are found, and how a system reference resolves.

The engine is a package; the reference systems and their experiments are data that ship with
the repository, beside it: a *catalogue* is a directory holding ``targets/<name>/system.yaml``
(and usually ``experiments/*.yaml``), like the repository's checkout. Nothing here reads where
the package itself is installed. Catalogues are searched in this order:

    --catalog DIR / $HARNESS_CATALOG     chosen explicitly (a missing directory is an input error)
    the experiment's own catalogue       the nearest directory above the experiment file with a targets/
    the current directory                its targets/ and experiments/ (a checkout, a user's project)

``$HARNESS_TARGETS`` (os.pathsep separated) adds directories of systems, searched first.

A system reference in an experiment is a path to a manifest (or its directory), relative to
the experiment file, else the name of a built-in system (``circuit-breaker`` ->
``<catalogue>/targets/circuit-breaker/system.yaml``).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

__all__ = ["CATALOG_ENV", "TARGETS_ENV", "builtin_systems", "catalog_of", "catalogs", "experiments_dirs",
           "missing_hint", "resolve_system", "targets_dirs", "using"]

CATALOG_ENV = "HARNESS_CATALOG"
TARGETS_ENV = "HARNESS_TARGETS"
WHERE_TO_GET_THEM = ("the reference systems and experiments ship with the harness repository (its targets/ and "
                     "experiments/ directories): run from a checkout of it, or point --catalog (or $HARNESS_CATALOG) at one")

_chosen: list[Path] = []  # --catalog, for the duration of one CLI command (see ``using``)


@contextlib.contextmanager
def using(directory: Path | None) -> Iterator[None]:
    """Search ``directory`` first while the block runs (the CLI's ``--catalog``)."""
    if directory is None:
        yield
        return
    _chosen.append(_existing(directory, "--catalog "))
    try:
        yield
    finally:
        _chosen.pop()


def _existing(directory: Path, setting: str) -> Path:
    if not directory.is_dir():
        raise InputError(f"{setting}{directory}: no such directory (a catalogue is a directory with targets/ and experiments/)")
    return directory.resolve()


def catalog_of(path: Path) -> Path | None:
    """The catalogue a file or directory lies in: the nearest directory at or above it that has a targets/."""
    here = path.resolve()
    for directory in (here, *here.parents):
        if (directory / "targets").is_dir():
            return directory
    return None


def catalogs(near: Path | None = None) -> list[Path]:
    """Catalogue directories in search order (see the module doc), without duplicates."""
    found: list[Path] = []
    if _chosen:
        found.append(_chosen[-1])
    elif os.environ.get(CATALOG_ENV):
        found.append(_existing(Path(os.environ[CATALOG_ENV]), f"{CATALOG_ENV}="))
    nearest = catalog_of(near) if near is not None else None
    for candidate in (nearest, Path.cwd().resolve()):
        if candidate is not None and candidate not in found:
            found.append(candidate)
    return found


def targets_dirs(near: Path | None = None) -> list[Path]:
    """Directories of systems (``<dir>/<name>/system.yaml``), in search order."""
    extra = [Path(p) for p in os.environ.get(TARGETS_ENV, "").split(os.pathsep) if p]
    return extra + [c / "targets" for c in catalogs(near)]


def experiments_dirs() -> list[Path]:
    """Directories of experiments (``*.yaml``) of the catalogues in use, that exist."""
    return [c / "experiments" for c in catalogs() if (c / "experiments").is_dir()]


def builtin_systems(near: Path | None = None) -> dict[str, Path]:
    """Name -> manifest of every system in the catalogues; the first found wins a name."""
    found: dict[str, Path] = {}
    for base in targets_dirs(near):
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
    return builtin_systems(near=relative_to).get(reference)


def missing_hint(near: Path | None = None) -> str:
    """What to say when no built-in system is found: where the harness looked, and where to get them."""
    looked = ", ".join(str(d) for d in targets_dirs(near))
    return f"no target systems in {looked}; {WHERE_TO_GET_THEM}"
