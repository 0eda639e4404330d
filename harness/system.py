"""Typed model of a target-system manifest (``system.yaml``) and its loader.

A manifest declares services (how each starts, its health check, environment), the edges
between them (each upstream becomes a Toxiproxy proxy), and named defects (switches that
break the resilience mechanism). The engine reads nothing else about a system: a user can
write one for their own services.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from .compose_file import HARNESS_KEY, ComposeService, is_compose_document, load_compose, manifest_from_compose
from .durations import Duration
from .errors import InputError, Problems
from .invariants.spec import AuditSpec, InvariantSpec, QuiescenceSpec
from .model import Spec
from .params import Parameter, evaluate_bound
from .system_checks import check_system
from .yamlfile import YamlDocument, format_loc, is_file, problems_from_validation, read_yaml

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
EVENT_PREFIX = "@harness-event "
"""A service reports a resilience event by printing this prefix and a JSON object on one line."""


class HealthSpec(Spec):
    type: Literal["http", "tcp", "container"] = Field("http", description="http: GET path answers 2xx; tcp: the port "
                                                      "accepts; container: the image's own HEALTHCHECK says healthy "
                                                      "(Docker runtime)")
    path: str = Field("/health", description="http: the path probed")
    timeout: Duration = Field(30.0, description="how long to wait for the service to become healthy")
    interval: Duration = Field(0.1, gt=0, description="time between two health probes")


class UpstreamSpec(Spec):
    """An edge: this service calls ``service`` through a Toxiproxy proxy."""

    service: str = Field(description="the service called")
    env: str | None = Field(None, description="environment variable that receives the proxied address (required, "
                            "except in a Compose system, where the callee's own name leads to the proxy)")
    url: str = Field("http://{host}:{port}", description="the form of that address; {host}:{port} are the proxy's")
    name: str | None = Field(None, description="edge name; default '<from>-><to>'")
    timeout_param: str | None = Field(None, description="the parameter that is the caller's timeout on this edge")
    max_amplification: float | str | None = Field(
        None, description="explore: most calls per request this edge may carry under a fault, vs normal "
                          "(a number or an expression over parameters, e.g. 'attempts * 1.25')")


class ServiceSpec(Spec):
    """One service: started by the harness (``command``, or an ``image`` of its own in the Docker runtime),
    or already running at ``address`` (never started, stopped, killed or paused by the harness)."""

    command: list[str] | None = Field(None, min_length=1, description="the program and its arguments; placeholders "
                                      "allowed. Optional with image: (the image's own command runs)")
    address: str | None = Field(None, description="HOST:PORT of a service already running: the harness does not start "
                                "or stop it, only routes edges to it through Toxiproxy. Outside loopback only when "
                                "allowlisted (--allow-address)")
    image: str | None = Field(None, description="Docker runtime: the image this service runs (default: the targets image)")
    cwd: str | None = Field(None, description="working directory, relative to the manifest's directory")
    env: dict[str, str] = Field(default_factory=dict, description="environment variables; placeholders allowed")
    port: int | None = Field(None, ge=1, le=65535, description="port inside a container; the local runtime picks a free one")
    url: str = Field("http://{host}:{port}", description="the form of the address Locust gets for this service "
                     "(HARNESS_URL_<SERVICE>, and the load's host for the entry), e.g. redis://{host}:{port}/0")
    load_edge: bool = Field(False, description="always route Locust's traffic to this service through Toxiproxy "
                            "(edge 'load-><service>'); without it, only when an experiment faults that edge")
    health: HealthSpec = Field(default_factory=HealthSpec)
    upstreams: list[UpstreamSpec] = Field(default_factory=list, description="services this one calls: each an edge "
                                          "through Toxiproxy")
    metrics: str | None = Field(None, description="path of the service's Prometheus metrics, scraped every second")
    audit: str | None = Field(None, description="path answering the service's state, fetched at the end of a run")
    stop_timeout: Duration = Field(5.0, description="how long a graceful stop may take before the service is killed")

    @property
    def external(self) -> bool:
        """Already running at ``address``: not the harness's to start, stop or fault as a process."""
        return self.address is not None

    @model_validator(mode="after")
    def _how_it_runs(self) -> "ServiceSpec":
        if self.address is not None:
            given = [f for f in ("command", "image", "cwd", "port") if getattr(self, f) is not None]
            given += [f for f in ("env", "upstreams") if getattr(self, f)]
            if given:
                raise ValueError(f"a service with 'address' is already running; the harness does not start it, so "
                                 f"{', '.join(repr(g) for g in given)} cannot apply (remove them, or remove 'address')")
        elif self.command is None and self.image is None:
            raise ValueError("say how the service runs: 'command' (a program), 'image' (Docker runtime), or "
                             "'address' (already running at HOST:PORT)")
        return self

    @field_validator("env", mode="before")
    @classmethod
    def _stringify_env(cls, value: object) -> object:
        # YAML turns `5` and `true` into numbers and booleans; environment values are strings.
        if isinstance(value, dict):
            return {k: _env_str(v) for k, v in value.items()}
        return value


def _env_str(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class DefectSpec(Spec):
    description: str = Field("", description="what the defect breaks")
    env: dict[str, dict[str, str]] = Field(default_factory=dict, description="service -> env overrides")

    @field_validator("env", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        if isinstance(value, dict):
            return {s: ({k: _env_str(v) for k, v in e.items()} if isinstance(e, dict) else e) for s, e in value.items()}
        return value


class Edge(Spec):
    name: str
    source: str
    target: str
    env: str | None
    url: str
    timeout_param: str | None = None


LOAD_SOURCE = "load"
"""The source of the load path's edges: ``load->SERVICE`` carries Locust's traffic to SERVICE."""


def load_edge_name(service: str) -> str:
    return f"{LOAD_SOURCE}->{service}"


def load_edge_target(edge: str) -> str | None:
    """The service of a ``load->SERVICE`` edge name, else None."""
    prefix = f"{LOAD_SOURCE}->"
    return edge[len(prefix):] if edge.startswith(prefix) else None


class LoadDependencies(Spec):
    """What the locustfile imports beyond Locust (harness.load.dependencies)."""

    requirements: list[str] | str | None = Field(
        None, description="pip requirements the locustfile imports: a list ('faker==25.0'), or a requirements file "
        "relative to this manifest; installed once into a cache and put on the Locust process's path")
    python: str | None = Field(
        None, description="an interpreter (same Python version as the harness) whose site-packages the locustfile's "
        "imports come from; a path relative to this manifest, or a name on PATH")


class SystemSpec(Spec):
    name: str = Field(pattern=NAME_PATTERN, max_length=64, description="the system's name")
    description: str = Field("", description="one line for harness list and the report")
    locustfile: str = Field(description="the Locust file that drives load, relative to this manifest")
    entry: str = Field(description="the service Locust sends load to")
    services: dict[str, ServiceSpec] = Field(min_length=1, description="name -> how the service runs")
    defects: dict[str, DefectSpec] = Field(default_factory=dict, description="name -> a switch that breaks the "
                                           "resilience mechanism (--defect NAME)")
    plugins: list[str] = Field(default_factory=list, description="Python files that register checks or faults")
    parameters: dict[str, str | int | float] = Field(
        default_factory=dict, description="the mechanism's configured numbers: {params.NAME} in env, bounds in checks")
    audits: dict[str, AuditSpec] = Field(default_factory=dict, description="reads of the system's effects")
    invariants: dict[str, InvariantSpec] = Field(default_factory=dict, description="predicates over the audits")
    quiescence: QuiescenceSpec = Field(default_factory=QuiescenceSpec)
    load: LoadDependencies = Field(default_factory=LoadDependencies,
                                   description="the locustfile's own dependencies (it runs in the harness's "
                                   "interpreter; these are added to its path)")
    compose: str | None = Field(None, description="a team's docker-compose.yml (relative to this manifest) whose "
                                "services are this system's; 'services:' here then only adds what Compose cannot say "
                                "(health, url, load_edge, metrics, port, upstreams)")

    # Set by the loader, not read from the file.
    directory: Path = Field(default=Path("."), exclude=True)
    manifest: Path | None = Field(default=None, exclude=True)
    """The file it was read from, for errors found after loading (deploy time, plugins)."""
    _compose_services: dict[str, ComposeService] = PrivateAttr(default_factory=dict)

    @property
    def manifest_name(self) -> str:
        return str(self.manifest or self.directory / "system.yaml")

    @property
    def compose_services(self) -> dict[str, ComposeService]:
        """Per service, what its Compose file says beyond the manifest (entrypoint, volumes, healthcheck)."""
        return self._compose_services

    @model_validator(mode="after")
    def _references_exist(self) -> "SystemSpec":
        services = set(self.services)
        if self.entry not in services:
            raise ValueError(f"entry '{self.entry}' is not a service; services: {', '.join(sorted(services))}")
        for name, svc in self.services.items():
            for up in svc.upstreams:
                if up.service not in services:
                    raise ValueError(f"service '{name}' has an upstream '{up.service}' that is not a service")
        for dname, defect in self.defects.items():
            for svc_name in defect.env:
                if svc_name not in services:
                    raise ValueError(f"defect '{dname}' overrides env of unknown service '{svc_name}'")
                if self.services[svc_name].external:
                    raise ValueError(f"defect '{dname}' overrides env of '{svc_name}', which is already running "
                                     "(address:); the harness does not start it, so it cannot set its environment")
        return self

    @property
    def params(self) -> dict[str, Parameter]:
        """The parameters, parsed (validated when the manifest was loaded)."""
        return {name: Parameter.parse(name, raw) for name, raw in self.parameters.items()}

    @property
    def edges(self) -> dict[str, Edge]:
        out: dict[str, Edge] = {}
        for name, svc in self.services.items():
            for up in svc.upstreams:
                edge_name = up.name or f"{name}->{up.service}"
                out[edge_name] = Edge(name=edge_name, source=name, target=up.service, env=up.env, url=up.url,
                                      timeout_param=up.timeout_param)
        return out

    @property
    def load_edges(self) -> dict[str, str]:
        """Every possible load-path edge (``load->SERVICE``) -> its service. An edge is interposed when
        the service declares ``load_edge: true`` or a fault of the run names it."""
        return {load_edge_name(name): name for name in self.services}

    @property
    def declared_load_edges(self) -> set[str]:
        return {load_edge_name(name) for name, svc in self.services.items() if svc.load_edge}

    @property
    def fault_edges(self) -> list[str]:
        """Every edge a network fault may name: service-to-service edges and the load path's."""
        return [*self.edges, *self.load_edges]

    @property
    def external_services(self) -> list[str]:
        return [name for name, svc in self.services.items() if svc.external]

    @property
    def locustfile_path(self) -> Path:
        return (self.directory / self.locustfile).resolve()

    def start_order(self) -> list[str]:
        """Services ordered so every upstream starts before the services that call it."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order:
                return
            if name in visiting:
                raise InputError(f"the upstreams of '{name}' form a cycle; services cannot start in order")
            visiting.add(name)
            for up in self.services[name].upstreams:
                visit(up.service)
            visiting.discard(name)
            order.append(name)

        for name in self.services:
            visit(name)
        return order

    def needs(self, name: str) -> set[str]:
        """The services ``name`` must find running when it starts: its upstreams, and the target of
        any edge its command or environment (a defect's included) names with ``{edges[NAME]}``."""
        svc = self.services[name]
        texts = [*(svc.command or []), *svc.env.values(), *(v for d in self.defects.values() for v in d.env.get(name, {}).values())]
        named = {m for t in texts for m in _EDGE_REF.findall(t)}
        edges = self.edges
        return {up.service for up in svc.upstreams} | {edges[e].target for e in named if e in edges}

    def start_waves(self) -> list[list[str]]:
        """``start_order`` in waves: every service of a wave needs only services of earlier waves, so a
        runtime can start a wave's services together and wait for them together (manifest order within)."""
        depth: dict[str, int] = {}
        for name in self.start_order():
            depth[name] = 1 + max((depth.get(n, 0) for n in self.needs(name) if n != name), default=-1)
        waves: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for name in self.services:
            waves[depth[name]].append(name)
        return waves


_EDGE_REF = re.compile(r"\{edges\[([^\]]+)\]\}")


def load_system(path: str | Path) -> SystemSpec:
    doc = read_yaml(path, what="system manifest")
    return parse_system(doc)


def parse_system(doc: YamlDocument) -> SystemSpec:
    if not isinstance(doc.data, dict):
        raise InputError("a system manifest must be a mapping with 'name', 'services', ...", file=str(doc.path))
    data, details = _with_compose(doc)
    try:
        system = SystemSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, doc), file=str(doc.path)) from None
    system.directory = doc.path.resolve().parent
    system.manifest = doc.path
    system._compose_services = details
    problems = Problems(file=str(doc.path))
    check_system(system, doc, problems)
    if not is_file(system.locustfile_path):
        problems.add("locustfile", f"no such file: {system.locustfile_path}", doc.line_of(("locustfile",)))
    for plugin in system.plugins:
        if not is_file(system.directory / plugin):
            problems.add("plugins", f"no such file: {system.directory / plugin}", doc.line_of(("plugins",)))
    _validate_effects(system, doc, problems)
    problems.raise_if_any()
    return system


def _with_compose(doc: YamlDocument) -> tuple[dict[str, object], dict[str, ComposeService]]:
    """The manifest to validate: as written, or with its services read from a Compose file
    (``compose:`` in a manifest, or a Compose file with an ``x-harness`` block)."""
    data: dict[str, object] = dict(doc.data)
    if is_compose_document(data):
        harness = data[HARNESS_KEY]
        if not isinstance(harness, dict):
            raise InputError(f"'{HARNESS_KEY}' must be a mapping with name, locustfile, entry, ...", file=str(doc.path))
        compose_data, compose_path = data, doc.path
        data = {**harness, "compose": doc.path.name}
    elif isinstance(data.get("compose"), str):
        compose_path = doc.path.resolve().parent / str(data["compose"])
        if not compose_path.is_file():
            raise InputError(f"compose: no such file: {compose_path}", file=str(doc.path))
        compose_data = load_compose(compose_path)
    else:
        return data, {}
    overlay = data.get("services") or {}
    if not isinstance(overlay, dict):
        raise InputError("services: a mapping of Compose service name -> what the harness adds", file=str(doc.path))
    data["services"], details = manifest_from_compose(compose_data, compose_path, overlay)
    return data, details


def _validate_effects(system: SystemSpec, doc: YamlDocument, problems: Problems) -> None:
    """Parameters parse, timeouts name duration parameters, audits name services, invariants read audits."""
    from .invariants.expr import ExprError, Expression

    params: dict[str, Parameter] = {}
    for name, raw in system.parameters.items():
        try:
            params[name] = Parameter.parse(name, raw)
        except ValueError as exc:
            problems.add(f"parameters.{name}", str(exc), doc.line_of(("parameters", name)))
    loc: tuple[str | int, ...]
    for sname, svc in system.services.items():
        for i, up in enumerate(svc.upstreams):
            if isinstance(up.max_amplification, str):
                try:
                    evaluate_bound(up.max_amplification, params)
                except ValueError as exc:
                    loc = ("services", sname, "upstreams", i, "max_amplification")
                    problems.add(format_loc(loc), str(exc), doc.line_of(loc))
            if up.timeout_param is None:
                continue
            loc = ("services", sname, "upstreams", i, "timeout_param")
            p = params.get(up.timeout_param)
            if p is None or p.kind != "duration":
                known = ", ".join(n for n, q in params.items() if q.kind == "duration") or "none"
                what = "is not a duration" if p is not None else "is not a parameter"
                problems.add(format_loc(loc), f"'{up.timeout_param}' {what}; duration parameters: {known}",
                             doc.line_of(loc))
    # {params.NAME} in templates: checked with every other placeholder (system_checks.py).
    for aname, audit in system.audits.items():
        src = audit.source
        if src.service not in system.services:
            kind = "sql" if audit.sql is not None else "http"
            problems.add(f"audits.{aname}.{kind}.service", f"'{src.service}' is not a service; services: "
                         f"{', '.join(system.services)}", doc.line_of(("audits", aname, kind, "service")))
    for iname, inv in system.invariants.items():
        loc = ("invariants", iname, "expect")
        try:
            expr = Expression.parse(inv.expect)
        except ExprError as exc:
            problems.add(f"invariants.{iname}.expect", str(exc), doc.line_of(loc))
            continue
        unknown = sorted(expr.names - set(system.audits))
        if unknown:
            problems.add(f"invariants.{iname}.expect", f"{', '.join(repr(u) for u in unknown)} "
                         f"{'is not an audit' if len(unknown) == 1 else 'are not audits'}; audits: "
                         f"{', '.join(system.audits) or 'none (declare them under audits:)'}", doc.line_of(loc))
