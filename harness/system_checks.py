"""What a manifest must get right beyond its types, checked when it is loaded (``validate``).

Each of these used to surface only at run time, after Toxiproxy and half the services were
up, or never: names that become file names and variable names, an upstream cycle (or a
service that is its own upstream), two edges with one name (the second silently replaced the
first), two upstreams writing one variable, placeholders that are unknown or malformed
(``{nope}``, ``{unclosed``, ``{port.real}``), environment names that no environment can hold.

``check_local_commands`` is separate: whether a service's program exists is a question about
this machine, asked only for the local runtime (a container has its own programs).
"""
from __future__ import annotations

import os
import re
import shutil
import string
from functools import partial
import sys
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Callable

from .errors import InputError, Problem, Problems
from .yamlfile import Loc, YamlDocument, format_loc

if TYPE_CHECKING:
    from .system import SystemSpec

NAME_MAX = 64
EDGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.>-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLAIN_PLACEHOLDERS = ("python", "host", "port", "service", "dir", "run_dir")
_EDGE_REF = re.compile(r"^edges\[([^\[\]]+)\]$")
_PARAM_REF = re.compile(r"^params\.([A-Za-z_][A-Za-z0-9_]*)(?:\.(ms|s))?$")
KNOWN = ", ".join([*("{" + p + "}" for p in PLAIN_PLACEHOLDERS), "{edges[EDGE]}", "{params.NAME}", "{params.NAME.ms}"])


def check_system(system: SystemSpec, doc: YamlDocument, problems: Problems) -> None:
    _names(system, doc, problems)
    _topology(system, doc, problems)
    _environment(system, doc, problems)
    _templates(system, doc, problems)
    _external(system, doc, problems)


# A Docker image reference: [registry[:port]/]path[:tag][@digest], path components lowercase.
IMAGE_REF = re.compile(r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
                       r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
                       r"(?:@sha256:[0-9a-f]{64})?$")


def _external(system: SystemSpec, doc: YamlDocument, problems: Problems) -> None:
    """An already-running service's address is well formed, and loopback unless allowlisted; image names parse."""
    from .allowlist import address_problem

    for sname, svc in system.services.items():
        if svc.image is not None and not IMAGE_REF.match(svc.image):
            _add(problems, doc, ("services", sname, "image"), f"{svc.image[:120]!r} is not an image reference "
                 "(e.g. 'shop/orders:1.2', 'registry.local:5000/orders@sha256:...'; lowercase repository names)")
        if svc.address is not None:
            message = address_problem(svc.address)
            if message:
                _add(problems, doc, ("services", sname, "address"), message)


def _add(problems: Problems, doc: YamlDocument, loc: Loc, message: str) -> None:
    problems.add(format_loc(loc), message, doc.line_of(loc))


def _names(system: SystemSpec, doc: YamlDocument, problems: Problems) -> None:
    """Service and defect names become file names (logs/<service>.log, the run folder) and variables."""
    from .system import LOAD_SOURCE

    pattern = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
    for group, names in (("services", system.services), ("defects", system.defects)):
        for name in names:
            if not pattern.match(name) or len(name) > NAME_MAX:
                _add(problems, doc, (group, name), f"name {name[:80]!r} must be lowercase letters, digits, - and _, "
                     f"starting with a letter or digit, at most {NAME_MAX} characters")
    if LOAD_SOURCE in system.services:
        _add(problems, doc, ("services", LOAD_SOURCE), f"'{LOAD_SOURCE}' is reserved: edges named "
             f"'{LOAD_SOURCE}->SERVICE' carry Locust's traffic; rename the service")
    for sname, svc in system.services.items():
        for i, up in enumerate(svc.upstreams):
            if up.name is not None and not EDGE_NAME.match(up.name):
                _add(problems, doc, ("services", sname, "upstreams", i, "name"),
                     f"edge name {up.name[:80]!r}: letters, digits, '_', '.', '-' and '>' only, at most 128")
        if svc.command is not None and not svc.command[0].strip():
            _add(problems, doc, ("services", sname, "command", 0), "the program to run is empty")
        if svc.health.type == "http" and not svc.health.path.startswith("/"):
            _add(problems, doc, ("services", sname, "health", "path"), f"must start with '/', got {svc.health.path!r}")


def _topology(system: SystemSpec, doc: YamlDocument, problems: Problems) -> None:
    """No service calls itself, no upstream cycle, one edge per name."""
    seen: dict[str, Loc] = {}
    for sname, svc in system.services.items():
        for i, up in enumerate(svc.upstreams):
            loc: Loc = ("services", sname, "upstreams", i)
            if up.service == sname:
                _add(problems, doc, loc + ("service",), f"service '{sname}' is its own upstream; an edge joins two "
                     "services")
            edge = up.name or f"{sname}->{up.service}"
            if edge in seen:
                _add(problems, doc, loc, f"edge '{edge}' is declared twice (also at {format_loc(seen[edge])}, line "
                     f"{doc.line_of(seen[edge])}); give one of them its own 'name:'")
            else:
                seen[edge] = loc
    cycle = _cycle(system)
    if cycle and len(cycle) > 2:  # a self-upstream (a -> a) is reported above
        _add(problems, doc, ("services", cycle[0], "upstreams"), f"the upstreams form a cycle: {' -> '.join(cycle)}; "
             "services must start upstreams first")


def _cycle(system: SystemSpec) -> list[str] | None:
    """A path a -> b -> ... -> a through upstreams, or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for start in system.services:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            name, i = stack.pop()
            if i == 0:
                state[name] = 1
                path.append(name)
            ups = [u.service for u in system.services[name].upstreams if u.service in system.services]
            if i < len(ups):
                stack.append((name, i + 1))
                nxt = ups[i]
                if state.get(nxt) == 1:
                    return path[path.index(nxt):] + [nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[name] = 2
                path.pop()
    return None


def _environment(system: SystemSpec, doc: YamlDocument, problems: Problems) -> None:
    """Variable names an environment can hold; one writer per variable of a service."""
    for sname, svc in system.services.items():
        writers: dict[str, Loc] = {}
        for i, up in enumerate(svc.upstreams):
            loc: Loc = ("services", sname, "upstreams", i, "env")
            if up.env is None:
                if system.compose is None:
                    _add(problems, doc, loc, f"the upstream '{up.service}' needs 'env': the variable that receives the "
                         "proxy's address")
                continue
            _env_name(problems, doc, loc, up.env)
            if up.env in writers:
                _add(problems, doc, loc, f"variable {up.env} is also set by {format_loc(writers[up.env])}; each "
                     "upstream needs its own variable")
            writers[up.env] = loc
        for key in svc.env:
            loc = ("services", sname, "env", key)
            _env_name(problems, doc, loc, key)
            if key in writers:
                _add(problems, doc, loc, f"variable {key} is the upstream address set by {format_loc(writers[key])}; "
                     "setting it here would replace the proxy's address")
    for dname, defect in system.defects.items():
        for sname, env in defect.env.items():
            for key in env:
                _env_name(problems, doc, ("defects", dname, "env", sname, key), key)


def _env_name(problems: Problems, doc: YamlDocument, loc: Loc, name: str) -> None:
    if not ENV_NAME.match(name):
        _add(problems, doc, loc, f"environment variable name {name[:80]!r}: letters, digits and '_', not starting "
             "with a digit (no '=', spaces or NUL)")


def _templates(system: SystemSpec, doc: YamlDocument, problems: Problems) -> None:
    templates: list[tuple[Loc, str]] = []
    for s, svc in system.services.items():
        templates += [(("services", s, "command", i), a) for i, a in enumerate(svc.command or [])]
        templates.append((("services", s, "url"), svc.url))
        templates += [(("services", s, "env", k), v) for k, v in svc.env.items()]
        templates += [(("services", s, "upstreams", i, "url"), up.url) for i, up in enumerate(svc.upstreams)]
    templates += [(("defects", d, "env", s, k), v) for d, spec in system.defects.items()
                  for s, env in spec.env.items() for k, v in env.items()]
    edges, params = set(system.edges), set(system.parameters)
    for loc, text in templates:
        message = template_problem(text, edges, params)
        if message:
            _add(problems, doc, loc, message)


def template_problem(text: str, edges: set[str], params: set[str]) -> str | None:
    """What is wrong with the placeholders of one template, or None."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        return f"malformed placeholder in {text[:120]!r} ({exc}); write '{{{{' and '}}}}' for literal braces"
    for field, spec, conv in fields:
        shown = "{" + field + "}"
        if conv or spec:
            return f"placeholder {shown} in {text[:120]!r} takes no conversion or format ('!' or ':')"
        if field in PLAIN_PLACEHOLDERS:
            continue
        edge = _EDGE_REF.match(field)
        if edge:
            if edge.group(1) not in edges:
                return (f"unknown edge {edge.group(1)!r} in {shown}; edges: {', '.join(sorted(edges)) or 'none'}")
            continue
        param = _PARAM_REF.match(field)
        if param:
            if param.group(1) not in params:
                return (f"{{params.{param.group(1)}}}: no parameter '{param.group(1)}'; parameters: "
                        f"{', '.join(sorted(params)) or 'none (declare them under parameters:)'}")
            continue
        return f"unknown placeholder {shown[:80]} in {text[:120]!r}; known: {KNOWN}"
    return None


def check_local_commands(system: SystemSpec) -> None:
    """Each service's program exists on this machine and its ``cwd`` is a directory (local runtime only)."""
    from .runtime.launch import Placement, launch_spec

    problems: list[Problem] = []
    manifest = system.manifest_name
    proxy_ports = {edge: 1 for edge in system.edges}
    for name, svc in system.services.items():
        if svc.external:
            continue  # already running: nothing of it runs here
        if svc.command is None or system.compose is not None:
            what = "comes from a Compose file" if system.compose else "has only an 'image'"
            problems.append(Problem(path=f"services.{name}.command", message=f"the service {what}: it runs in the "
                                    "Docker runtime (--runtime docker)"))
            continue
        if svc.health.type == "container":
            problems.append(Problem(path=f"services.{name}.health.type", message="'container' health is the image's "
                                    "own HEALTHCHECK: it needs the Docker runtime (--runtime docker)"))
            continue
        placement = Placement(python=sys.executable, host="127.0.0.1", port=1, directory=system.directory,
                              run_dir=str(system.directory), proxy_host="127.0.0.1", proxy_ports=proxy_ports)
        try:
            spec = launch_spec(system, name, placement)
        except InputError as exc:
            problems.extend(Problem(path=f"services.{name}", message=p.message) for p in exc.problems)
            continue
        cwd = Path(PurePath(spec.cwd))
        if not _safely(cwd.is_dir):
            problems.append(Problem(path=f"services.{name}.cwd", message=f"no such directory: {cwd}"))
            continue
        program = spec.argv[0]
        path_var = {**os.environ, **svc.env}.get("PATH", os.defpath)
        if "/" in program:
            target = cwd / program
            if not (_safely(target.is_file) and os.access(target, os.X_OK)):
                problems.append(Problem(path=f"services.{name}.command", message=f"{program}: no such executable "
                                        f"file (relative to {cwd})"))
        elif not _safely(partial(_on_path, program, path_var)):
            problems.append(Problem(path=f"services.{name}.command", message=f"{program}: not found on PATH; install "
                                    "it, or name the program by its path"))
    if problems:
        raise InputError(problems, file=manifest)


def _on_path(program: str, path_var: str) -> bool:
    return shutil.which(program, path=path_var) is not None


def _safely(test: Callable[[], bool]) -> bool:
    """A file-system test on a name from an input file: too long, a NUL, a loop mean "no"."""
    try:
        return test()
    except (OSError, ValueError):
        return False
