"""Load the extensions that register extra checks, faults or runtimes.

Two sources, after pytest and Locust:

- **plugin files** a manifest lists under ``plugins:`` (a saga's invariants, which only make
  sense for that system). Each file is imported once per process; what it registers is held
  in its own layer of the registries, and :func:`load_for` returns the :class:`Scope` of a
  system's files. An experiment is validated and run inside its system's scope, so a check
  type registered by one system's plugin never satisfies another experiment.
- **installed extensions**: distributions declaring an entry point in group
  ``harness.plugins`` (``[project.entry-points."harness.plugins"] mychecks = "mypkg.checks"``).
  The entry point names a module (importing it registers) or a callable (called with no
  arguments). They are loaded once, before the first plugin file, and are visible to every
  experiment. ``HARNESS_DISABLE_PLUGIN_AUTOLOAD=1`` turns them off (as pytest's
  ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` does).

What a plugin may import is :mod:`harness.plugin` (the public extension API).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .errors import EnvironmentProblem, InputError
from .registry import Layer, Scope, capturing

if TYPE_CHECKING:
    from .system import SystemSpec

ENTRY_POINT_GROUP = "harness.plugins"
DISABLE_AUTOLOAD_ENV = "HARNESS_DISABLE_PLUGIN_AUTOLOAD"

_files: dict[str, Layer] = {}
"""Plugin file (resolved path) -> what it registered: a file shared by two systems is imported once."""
_installed_loaded = False


def load_for(system: "SystemSpec") -> Scope:
    """Import the system's plugin files (once each) and return the scope holding them."""
    load_installed()
    layers = tuple(_load_file((system.directory / rel).resolve(), system) for rel in system.plugins)
    scope = Scope(layers)
    clashes = scope.clashes()
    if clashes:
        raise InputError("; ".join(f"plugins: {c}" for c in clashes), file=system.manifest_name)
    return scope


def load_installed() -> None:
    """Load every ``harness.plugins`` entry point, once per process."""
    global _installed_loaded
    if _installed_loaded:
        return
    _installed_loaded = True
    if os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("", "0"):
        return
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    if eps:
        _import_builtins()
    for ep in eps:
        _load_entry_point(ep)


def _load_entry_point(ep: EntryPoint) -> None:
    dist = getattr(ep.dist, "name", None)
    origin = f"entry point {ep.name} = {ep.value}" + (f" (from {dist})" if dist else "")
    try:
        with capturing(Layer(origin), installed=True):
            obj = ep.load()
            if callable(obj) and not isinstance(obj, ModuleType):
                obj()
    except Exception as exc:  # a broken installed extension: the environment's problem, named
        raise EnvironmentProblem(f"the installed harness plugin {origin} failed to load: {type(exc).__name__}: {exc} "
                                 f"(uninstall it, or set {DISABLE_AUTOLOAD_ENV}=1)") from exc


def _load_file(path: Path, system: "SystemSpec") -> Layer:
    key = str(path)
    if key in _files:
        return _files[key]
    _import_builtins()
    module_name = f"harness_plugin_{system.name.replace('-', '_')}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import plugin {path}", file=system.manifest_name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with capturing(Layer(str(path))) as layer:
            spec.loader.exec_module(module)
    except Exception as exc:  # a broken plugin is the user's input, not our crash
        del sys.modules[module_name]
        raise InputError(f"plugin {path} failed to import: {type(exc).__name__}: {exc}",
                         file=system.manifest_name) from exc
    _files[key] = layer
    return layer


def _import_builtins() -> None:
    """Import every module that registers built-ins BEFORE a plugin runs.

    Otherwise a plugin that happens to be the first importer of, say, ``harness.runtime``
    would capture the built-in runtimes into its own layer, and they would vanish outside it.
    """
    from . import checks, faults, runtime  # noqa: F401
