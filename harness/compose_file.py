"""A team's own ``docker-compose.yml`` as the system: read its services into a manifest.

Two ways to point the harness at one:

    # system.yaml beside it                     # or the Compose file itself, with an x-harness block
    name: shop                                  services: {...}
    compose: docker-compose.yml                 x-harness:
    locustfile: locustfile.py                     name: shop
    entry: web                                    locustfile: locustfile.py
    services:        # optional, per service        entry: web
      web: {load_edge: true}

Each Compose service becomes a manifest service that runs its ``image`` in the Docker runtime,
with its ``command``/``entrypoint``, ``environment`` (and ``env_file``), ``volumes`` and
``healthcheck`` (and ``user``, ``working_dir``, ``init``) as Compose would run them (nothing is templated: braces stay braces), its first
container port (``ports``/``expose``) as the service's port, and ``depends_on`` as the start
order. Every ``depends_on`` (and ``links``) is an edge ``caller->callee`` through Toxiproxy:
the runtime gives Toxiproxy the callee's name as a network alias on a network it shares with that
caller only, so the caller's own configuration (``http://api:8000``) reaches the proxy unchanged,
and each edge can be faulted alone. A call to a service that is not a declared edge does not
resolve: declare it (``depends_on``, or ``upstreams: [{service: X}]`` under the manifest's service).

Refused, with the reason: a service without ``image`` (build it first: ``docker-compose build``),
``network_mode``, and ``depends_on`` conditions other than started/healthy.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, Problems
from .yamlfile import read_yaml

HARNESS_KEY = "x-harness"
"""The Compose extension field holding the manifest's own fields when ``system:`` names the Compose file."""

# Keys that only matter to Compose's own scheduling, networks or build: ignored, said in the journal.
IGNORED = {"restart", "deploy", "networks", "container_name", "labels", "logging", "build", "profiles", "stop_signal",
           "hostname", "domainname", "ulimits", "sysctls", "tty", "stdin_open", "platform", "pull_policy"}
SUPPORTED = {"image", "command", "entrypoint", "environment", "env_file", "volumes", "ports", "expose",
             "healthcheck", "depends_on", "links", "working_dir", "user", "stop_grace_period", "init"}


@dataclass
class ComposeService:
    """What ``docker run`` needs beyond the manifest's fields, as the Compose file says it."""

    entrypoint: list[str] | None = None
    volumes: list[dict[str, Any]] = field(default_factory=list)
    """Each ``{type: bind|volume, source, target, read_only}``; bind sources are absolute."""
    healthcheck: dict[str, Any] | None = None
    """Docker's healthcheck (test, interval/timeout/start_period in ns, retries), or None."""
    user: str | None = None
    working_dir: str | None = None
    init: bool | None = None
    ignored: list[str] = field(default_factory=list)


def is_compose_document(data: Any) -> bool:
    return isinstance(data, dict) and HARNESS_KEY in data and isinstance(data.get("services"), dict)


def manifest_from_compose(data: dict[str, Any], compose_path: Path,
                          overlay: dict[str, Any]) -> tuple[dict[str, Any], dict[str, ComposeService]]:
    """The manifest (as a mapping to validate) and the Compose-only details per service.

    ``overlay`` is the manifest's own ``services:`` (health, url, load_edge, metrics, port, upstreams):
    what the Compose file cannot say; it must name Compose services."""
    problems = Problems(file=str(compose_path))
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise InputError("a Compose file needs a 'services:' mapping", file=str(compose_path))
    for name in overlay:
        if name not in services:
            problems.add(f"services.{name}", f"not a service of {compose_path.name}; its services: "
                         f"{', '.join(services)}")
    out: dict[str, Any] = {}
    details: dict[str, ComposeService] = {}
    for name, raw in services.items():
        if not isinstance(raw, dict):
            problems.add(f"services.{name}", "must be a mapping")
            continue
        where = f"services.{name}"
        extra = dict(overlay.get(name) or {})
        svc: dict[str, Any] = {}
        if "image" not in raw:
            problems.add(where, "has no 'image': build it first (`docker-compose build`) and name the image here")
        else:
            svc["image"] = str(raw["image"])
        if "network_mode" in raw:
            problems.add(f"{where}.network_mode", "the harness puts each service on networks of its own, so it can "
                         "route its calls through Toxiproxy; remove network_mode")
        if raw.get("command") is not None:
            svc["command"] = [_literal(a) for a in _argv(raw["command"])]
        env = _environment(raw, compose_path.parent, where, problems)
        svc["env"] = {k: _literal(v) for k, v in env.items()}
        port = _first_port(raw, where, problems)
        if port is not None:
            svc["port"] = port
        after = _depends_on(raw, where, problems)
        declared = [u for u in extra.pop("upstreams", []) if isinstance(u, dict)]
        named = {u.get("service") for u in declared}
        svc["upstreams"] = declared + [{"service": s} for s in after if s not in named]
        if "healthcheck" in raw and not (raw["healthcheck"] or {}).get("disable"):
            svc["health"] = {"type": "container"}
        elif "health" not in extra:
            svc["health"] = {"type": "tcp"}
        grace = raw.get("stop_grace_period")
        if grace is not None:
            svc["stop_timeout"] = grace
        svc.update(extra)
        out[name] = svc
        details[name] = ComposeService(
            entrypoint=_argv(raw["entrypoint"]) if raw.get("entrypoint") is not None else None,
            volumes=_volumes(raw.get("volumes") or [], compose_path.parent, where, problems),
            healthcheck=_healthcheck(raw.get("healthcheck"), where, problems),
            user=str(raw["user"]) if raw.get("user") is not None else None,
            working_dir=str(raw["working_dir"]) if raw.get("working_dir") is not None else None,
            init=bool(raw["init"]) if raw.get("init") is not None else None,
            ignored=sorted(k for k in raw if k in IGNORED or (k not in SUPPORTED and k != "network_mode")))
    problems.raise_if_any()
    return out, details


def load_compose(path: Path) -> dict[str, Any]:
    doc = read_yaml(path, what="Compose file")
    if not isinstance(doc.data, dict):
        raise InputError("a Compose file must be a mapping with 'services:'", file=str(path))
    return doc.data


def _literal(value: Any) -> str:
    """A Compose string kept as it is: the manifest's placeholders use braces, so they are escaped."""
    text = "true" if value is True else "false" if value is False else str(value)
    return text.replace("{", "{{").replace("}", "}}")


def _argv(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _environment(raw: dict[str, Any], base: Path, where: str, problems: Problems) -> dict[str, Any]:
    env: dict[str, Any] = {}
    files = raw.get("env_file") or []
    for entry in [files] if isinstance(files, str) else files:
        path = base / (entry if isinstance(entry, str) else entry.get("path", ""))
        try:
            for line in path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, _, value = line.partition("=")
                    env[key.strip()] = value.strip()
        except OSError as exc:
            problems.add(f"{where}.env_file", f"cannot read {path}: {exc.strerror or exc}")
    given = raw.get("environment") or {}
    if isinstance(given, list):
        for item in given:
            key, sep, value = str(item).partition("=")
            if sep:  # `- NAME` alone passes the host's variable through: nothing of this machine leaks in
                env[key] = value
    elif isinstance(given, dict):
        env.update({k: ("" if v is None else v) for k, v in given.items()})
    return env


def _first_port(raw: dict[str, Any], where: str, problems: Problems) -> int | None:
    """The container side of the first ``ports`` entry, else the first ``expose``."""
    for key in ("ports", "expose"):
        for entry in raw.get(key) or []:
            text = str(entry.get("target")) if isinstance(entry, dict) else str(entry)
            container = text.split("/")[0].rsplit(":", 1)[-1].split("-")[0]
            if container.isdigit():
                return int(container)
            problems.add(f"{where}.{key}", f"cannot read a container port from {entry!r}")
            return None
    return None


def _depends_on(raw: dict[str, Any], where: str, problems: Problems) -> list[str]:
    deps = raw.get("depends_on") or []
    names: list[str] = []
    if isinstance(deps, dict):
        for name, spec in deps.items():
            condition = (spec or {}).get("condition", "service_started")
            if condition not in ("service_started", "service_healthy"):
                problems.add(f"{where}.depends_on.{name}", f"condition {condition!r}: only service_started and "
                             "service_healthy (the harness waits for every service to be healthy before the next)")
            names.append(str(name))
    else:
        names = [str(d) for d in deps]
    names += [str(link).split(":")[0] for link in raw.get("links") or []]
    return list(dict.fromkeys(names))


def _volumes(entries: list[Any], base: Path, where: str, problems: Problems) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        if isinstance(entry, dict):
            kind, source, target = entry.get("type", "volume"), entry.get("source"), entry.get("target")
            read_only = bool(entry.get("read_only", False))
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:
                kind, source, target, read_only = "volume", None, parts[0], False
            else:
                source, target = parts[0], parts[1]
                read_only = len(parts) > 2 and "ro" in parts[2].split(",")
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if not target:
            problems.add(f"{where}.volumes", f"no container path in {entry!r}")
            continue
        if kind == "bind":
            source = str((base / str(source)).resolve()) if not str(source).startswith("/") else str(source)
        elif kind != "volume":
            problems.add(f"{where}.volumes", f"volume type {kind!r}: only bind mounts and named volumes")
            continue
        out.append({"type": kind, "source": source, "target": str(target), "read_only": read_only})
    return out


def _healthcheck(raw: Any, where: str, problems: Problems) -> dict[str, Any] | None:
    from .durations import parse_duration

    if not isinstance(raw, dict) or raw.get("disable"):
        return None
    test = raw.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test:
        problems.add(f"{where}.healthcheck.test", "must be a list (['CMD', ...]) or a shell string")
        return None
    out: dict[str, Any] = {"test": [str(t) for t in test]}
    for key in ("interval", "timeout", "start_period"):
        if key in raw:
            try:
                out[key] = int(_compose_duration(raw[key], parse_duration) * 1e9)
            except ValueError as exc:
                problems.add(f"{where}.healthcheck.{key}", str(exc))
    if "retries" in raw:
        out["retries"] = int(raw["retries"])
    return out


def _compose_duration(value: Any, parse: Any) -> float:
    """Compose writes '1m30s' as well as '5s'."""
    import re

    if isinstance(value, str) and re.fullmatch(r"(\d+(\.\d+)?(ms|s|m|h))+", value):
        return float(sum(parse(part) for part in re.findall(r"\d+(?:\.\d+)?(?:ms|s|m|h)", value)))
    return float(parse(value))
