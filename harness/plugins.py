"""Load a system's plugin files: Python modules that register extra checks or faults.

A manifest lists them under ``plugins:``; this is how a target ships checks that only make
sense for it (a saga's invariants) without the engine knowing about the pattern.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    from .system import SystemSpec

_loaded: set[str] = set()


def load_for(system: "SystemSpec") -> None:
    for rel in system.plugins:
        path = (system.directory / rel).resolve()
        key = str(path)
        if key in _loaded:
            continue
        module_name = f"harness_plugin_{system.name.replace('-', '_')}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"cannot import plugin {path}", file=system.manifest_name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # a broken plugin is the user's input, not our crash
            del sys.modules[module_name]
            raise InputError(f"plugin {path} failed to import: {type(exc).__name__}: {exc}",
                             file=system.manifest_name) from exc
        _loaded.add(key)
