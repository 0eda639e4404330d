"""What a locustfile imports beyond Locust: ``load.requirements:`` and ``load.python:`` in a manifest.

The locustfile always runs in the harness's own interpreter (``sys.executable -m
harness.load.locust_process``): it must import the harness and Locust, and a second interpreter
would be a second set of pins to keep in step. What a manifest adds is put on that process's
``sys.path`` AFTER its own entries (``HARNESS_LOAD_PATH``), so the harness's packages always win
and a locustfile's extras only fill in what is missing:

    load:
      requirements: [faker==25.0.0, pyjwt]     # or a file: requirements: requirements-load.txt
      python: ../.venv/bin/python              # or: the site-packages of an interpreter you already have

``requirements`` are installed once with this interpreter's pip (``pip install --target``) into a
cache keyed by the requirements and the Python version (``$HARNESS_CACHE``, else
``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``), then reused. ``python`` must be the same
Python version as the harness (compiled packages would not load otherwise); its site-packages are
read from it, nothing is installed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from ..system import SystemSpec

PATH_ENV = "HARNESS_LOAD_PATH"
"""The Locust process appends these directories (os.pathsep-separated) to ``sys.path``."""
CACHE_ENV = "HARNESS_CACHE"
_DONE = ".harness-complete"
_PIP_TIMEOUT = 600.0


@dataclass
class LoadPaths:
    paths: list[str] = field(default_factory=list)
    pending: bool = False
    """``requirements`` are declared but not installed yet: a missing import may still come from them."""
    installed: str | None = None
    """The cache directory installed by this call (for the journal), else None."""

    def env(self) -> dict[str, str]:
        return {PATH_ENV: os.pathsep.join(self.paths)} if self.paths else {}


def cache_root() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "harness"


def load_paths(system: SystemSpec, *, install: bool) -> LoadPaths:
    """The directories the locustfile's imports may come from; ``install`` runs pip when needed."""
    out = LoadPaths()
    spec = system.load
    if spec.python is not None:
        out.paths += _site_packages(system, spec.python)
    if spec.requirements is not None:
        lines = _requirements(system)
        target = cache_root() / "load-deps" / _key(lines)
        if (target / _DONE).is_file():
            out.paths.append(str(target))
        elif install:
            _install(system, lines, target)
            out.paths.append(str(target))
            out.installed = str(target)
        else:
            out.pending = True
    return out


def _where(system: SystemSpec) -> str:
    return system.manifest_name


def _requirements(system: SystemSpec) -> list[str]:
    given = system.load.requirements
    if isinstance(given, list):
        return [str(r).strip() for r in given if str(r).strip()]
    path = system.directory / str(given)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"load.requirements: cannot read {path}: {exc.strerror or exc}", file=_where(system)) from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def _key(lines: list[str]) -> str:
    text = json.dumps({"python": list(sys.version_info[:2]), "requirements": sorted(lines)})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _install(system: SystemSpec, lines: list[str], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Into a fresh folder, renamed when complete: an interrupted install is never taken for a done one.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    reqs = staging / "requirements.txt"
    reqs.write_text("\n".join(lines) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
           "--target", str(staging / "lib"), "-r", str(reqs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"load.requirements: pip did not finish: {exc}", file=_where(system)) from None
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise InputError(f"load.requirements: pip could not install {', '.join(lines)}:\n{tail}",
                         file=_where(system)) from None
    for item in (staging / "lib").iterdir():
        item.rename(staging / item.name)
    (staging / "lib").rmdir()
    (staging / _DONE).write_text("\n".join(lines) + "\n")
    try:
        staging.rename(target)
    except OSError:  # another run installed the same set meanwhile: theirs is as good
        shutil.rmtree(staging, ignore_errors=True)


def _site_packages(system: SystemSpec, python: str) -> list[str]:
    exe = Path(python) if os.sep in python else Path(shutil.which(python) or python)
    if not exe.is_absolute():
        exe = system.directory / exe
    probe = "import json, sys, site; print(json.dumps([list(sys.version_info[:2]), site.getsitepackages()]))"
    try:
        proc = subprocess.run([str(exe), "-c", probe], capture_output=True, text=True, timeout=30)
        version, paths = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        raise InputError(f"load.python: {exe} does not run as a Python interpreter ({type(exc).__name__}: "
                         f"{str(exc)[:200]})", file=_where(system)) from None
    if tuple(version) != tuple(sys.version_info[:2]):
        raise InputError(f"load.python: {exe} is Python {version[0]}.{version[1]}, the harness runs "
                         f"{sys.version_info[0]}.{sys.version_info[1]}: its compiled packages would not load in the "
                         "Locust process; use an interpreter of the same version, or load.requirements",
                         file=_where(system))
    return [str(p) for p in paths]
