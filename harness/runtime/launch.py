"""How a manifest's service becomes something to run: one function every runtime uses.

``launch_spec(system, service, placement, defect)`` expands the manifest's placeholders in the
command and the environment, points each upstream variable at that edge's proxy, and adds the
variables every service gets (``HOST``, ``PORT``, ``HARNESS_SERVICE``). What differs between
runtimes is only where things are, as the service sees them: that is the ``Placement``.

    placeholder   local process                 container (Docker runtime, Compose stack)
    {python}      the harness's interpreter     /opt/venv/bin/python
    {host}        127.0.0.1                     0.0.0.0
    {port}        a free loopback port          the manifest's port, else 8000
    {dir}         the manifest's directory      where the image (or a mount) has it
    {run_dir}     the run folder                /harness/run (the run folder, mounted)
    {edges[E]}    Toxiproxy's listener for E, as the service reaches it
    {service}     the service's name
    {params.NAME} a manifest parameter (seconds; {params.NAME.ms} in milliseconds)

Pure: no process, no container, no file is touched here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ..errors import InputError
from ..params import ParamValues
from ..registry import UnknownEntry
from ..system import SystemSpec

__all__ = ["EdgeAddresses", "LaunchSpec", "Placement", "expand", "launch_spec"]


@dataclass(frozen=True)
class Placement:
    """Where a runtime puts one service, as that service sees it."""

    python: str
    """The interpreter ``{python}`` names."""
    host: str
    """The address the service listens on (``{host}``, ``HOST``)."""
    port: int
    """The port it listens on (``{port}``, ``PORT``)."""
    directory: PurePath
    """The manifest's directory (``{dir}``); ``cwd:`` is relative to it."""
    run_dir: str
    """The run folder (``{run_dir}``)."""
    proxy_host: str
    """Where the service reaches Toxiproxy's listeners."""
    proxy_ports: Mapping[str, int] = field(default_factory=dict)
    """Edge name -> the port Toxiproxy listens on for it."""

    def edge_address(self, edge: str) -> str:
        return f"{self.proxy_host}:{self.proxy_ports[edge]}"


@dataclass
class LaunchSpec:
    """What to run for one service: everything a process, ``docker run`` or a Compose service needs."""

    name: str
    argv: list[str]
    env: dict[str, str]
    """The variables the harness sets; a local runtime layers them over its own environment."""
    cwd: PurePath
    port: int


class EdgeAddresses(dict[str, str]):
    """``{edges[catalog->db]}``: the proxy address (host:port) of any edge. Lets a defect route a
    service over another service's edge (e.g. onto one shared database), so a fault there spreads."""

    def __missing__(self, key: str) -> str:
        raise UnknownEntry("edge", key, sorted(self))


def launch_spec(system: SystemSpec, name: str, placement: Placement, defect: str | None = None) -> LaunchSpec:
    """The command, environment and directory of one service, for the given placement."""
    svc = system.services[name]
    values: dict[str, Any] = {
        "python": placement.python, "host": placement.host, "port": str(placement.port), "service": name,
        "dir": str(placement.directory), "run_dir": placement.run_dir,
        "edges": EdgeAddresses({edge: placement.edge_address(edge) for edge in placement.proxy_ports}),
        "params": ParamValues(system.params),
    }
    # No command: a service with an image of its own runs the image's command (Docker runtime).
    argv = [expand(a, values, f"services.{name}.command") for a in svc.command or []]
    env = {"HOST": placement.host, "PORT": str(placement.port), "HARNESS_SERVICE": name, "PYTHONUNBUFFERED": "1"}
    for edge in system.edges.values():
        if edge.source == name and edge.env is not None:  # None: a Compose edge, reached by the callee's name
            # The upstream's URL template sees the proxy as {host}:{port}: the caller never learns the callee's address.
            env[edge.env] = expand(edge.url, {**values, "host": placement.proxy_host,
                                              "port": str(placement.proxy_ports[edge.name])}, f"upstream url of {name}")
    for key, value in svc.env.items():
        env[key] = expand(value, values, f"services.{name}.env.{key}")
    if defect:
        for key, value in system.defects[defect].env.get(name, {}).items():
            env[key] = expand(value, values, f"defects.{defect}.env.{name}.{key}")
    cwd = placement.directory / svc.cwd if svc.cwd else placement.directory
    return LaunchSpec(name=name, argv=argv, env=env, cwd=cwd, port=placement.port)


def expand(template: str, values: dict[str, Any], where: str) -> str:
    """``template`` with its placeholders filled; an unknown or malformed one is an InputError naming ``where``."""
    try:
        return template.format(**values)
    except UnknownEntry as exc:
        raise InputError(f"{where}: {exc} in {template!r}") from None
    except KeyError as exc:
        raise InputError(f"{where}: unknown placeholder {{{exc.args[0]}}} in {template!r}; "
                         f"known: {', '.join('{' + k + '}' for k in sorted(values))}") from None
    except (IndexError, ValueError) as exc:
        raise InputError(f"{where}: malformed placeholder in {template!r} ({exc}); write '{{{{' for a literal brace") from None
