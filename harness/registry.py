"""A registry per family (faults, checks, runtimes): ``type:`` in YAML is always a registry key.

Modelled on Toxiproxy's toxic registry: each entry registers itself under a name; an unknown
name is a named error that lists what is known.

Entries come from three places, and what a lookup sees depends on where it is made:

    built-in      registered while the engine's own modules are imported: visible everywhere
    installed     registered by an entry point of group ``harness.plugins`` (``harness.plugins``
                  loads them): visible everywhere, like pytest's and Locust's installed plugins
    a plugin file registered while one of a manifest's ``plugins:`` is imported: held in that
                  file's own :class:`Layer`, visible only inside a :class:`Scope` that holds it

An experiment's validation and run look entries up inside the scope of its system's plugins
(``with scope.active():``), so a check type one system's plugin registers never satisfies
another experiment. A lookup made outside any scope (a unit test that loaded a plugin by hand,
``harness list``) sees every layer loaded so far, and refuses a name two layers define.
"""
from __future__ import annotations

import contextlib
import difflib
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, Iterator, TypeVar

T = TypeVar("T")


@dataclass(eq=False)
class Layer:
    """What one plugin registered, registry by registry (identity-hashed: one per plugin)."""

    origin: str
    """Where it came from: a plugin file's path or an entry point (``name = module``), for messages."""
    entries: dict["Registry[Any]", dict[str, Any]] = field(default_factory=dict)

    def names(self) -> list[tuple[str, str]]:
        """(family, name) of everything the layer holds."""
        return sorted((reg.family, name) for reg, found in self.entries.items() for name in found)


@dataclass(frozen=True)
class Scope:
    """The plugin layers one experiment may see (its system's ``plugins:``), in manifest order."""

    layers: tuple[Layer, ...] = ()

    @contextlib.contextmanager
    def active(self) -> Iterator["Scope"]:
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    def clashes(self) -> list[str]:
        """Names two of the scope's layers (or a layer and an installed plugin) both define."""
        seen: dict[tuple[str, str], str] = {}
        found: list[str] = []
        for layer in (*_installed, *self.layers):
            for key in layer.names():
                if key in seen and seen[key] != layer.origin:
                    found.append(f"{key[0]} '{key[1]}' is registered by both {seen[key]} and {layer.origin}")
                seen.setdefault(key, layer.origin)
        return found


_capturing: ContextVar[Layer | None] = ContextVar("harness_registry_capturing", default=None)
_active: ContextVar[Scope | None] = ContextVar("harness_registry_scope", default=None)
_installed: list[Layer] = []
"""Layers of the installed (entry point) plugins: seen by every lookup."""
_loaded: list[Layer] = []
"""Every plugin file's layer loaded in this process: what a lookup outside any scope sees."""


@contextlib.contextmanager
def capturing(layer: Layer, installed: bool = False) -> Iterator[Layer]:
    """Registrations made inside go into ``layer`` (a plugin being imported), not the built-ins."""
    token = _capturing.set(layer)
    try:
        yield layer
    finally:
        _capturing.reset(token)
    (_installed if installed else _loaded).append(layer)


def current_scope() -> Scope | None:
    return _active.get()


class AmbiguousEntry(KeyError):
    def __init__(self, family: str, name: str, origins: list[str]):
        super().__init__(f"{family} '{name}' is registered by several plugins ({', '.join(origins)}); "
                         "look it up within an experiment's scope")

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownEntry(KeyError):
    def __init__(self, family: str, name: str, known: list[str]):
        self.family, self.name, self.known = family, name, known
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        super().__init__(f"unknown {family} '{name}'{hint}; known: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, family: str):
        self.family = family
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        layer = _capturing.get()
        if name in self._entries:
            raise ValueError(f"{self.family} '{name}' is registered twice" if layer is None else
                             f"{self.family} '{name}' is built in; {layer.origin} cannot register it again")
        target = self._entries if layer is None else layer.entries.setdefault(self, {})
        if name in target:
            raise ValueError(f"{self.family} '{name}' is registered twice")
        target[name] = entry
        return entry

    def _candidates(self) -> dict[str, list[tuple[str, T]]]:
        """Every visible name with its (origin, entry) pairs: built-ins, installed, then the scope's layers."""
        found: dict[str, list[tuple[str, T]]] = {name: [("built-in", e)] for name, e in self._entries.items()}
        scope = _active.get()
        for layer in (*_installed, *(scope.layers if scope is not None else _loaded)):
            for name, entry in layer.entries.get(self, {}).items():
                pairs = found.setdefault(name, [])
                if all(entry is not e for _, e in pairs):
                    pairs.append((layer.origin, entry))
        return found

    def get(self, name: str) -> T:
        if name in self._entries:  # the common case, and built-ins are never shadowed
            return self._entries[name]
        pairs = self._candidates().get(name)
        if not pairs:
            raise UnknownEntry(self.family, name, self.names())
        if len(pairs) > 1:
            raise AmbiguousEntry(self.family, name, [origin for origin, _ in pairs])
        return pairs[0][1]

    def names(self) -> list[str]:
        return sorted(self._candidates())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._candidates())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
