"""Typed model of a target-system manifest (``system.yaml``) and its loader.

A manifest declares services (how each starts, its health check, environment), the edges
between them (each upstream becomes a Toxiproxy proxy), and named defects (switches that
break the resilience mechanism). The engine reads nothing else about a system: a user can
write one for their own services.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from .durations import Duration
from .errors import InputError, Problems
from .invariants.spec import AuditSpec, InvariantSpec, QuiescenceSpec
from .model import Spec
from .params import Parameter, evaluate_bound
from .system_checks import check_system
from .yamlfile import YamlDocument, format_loc, problems_from_validation, read_yaml

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
EVENT_PREFIX = "@harness-event "
"""A service reports a resilience event by printing this prefix and a JSON object on one line."""


class HealthSpec(Spec):
    type: Literal["http", "tcp"] = "http"
    path: str = "/health"
    timeout: Duration = Field(30.0, description="how long to wait for the service to become healthy")
    interval: Duration = Field(0.1, gt=0, description="time between two health probes")


class UpstreamSpec(Spec):
    """An edge: this service calls ``service`` through a Toxiproxy proxy."""

    service: str
    env: str = Field(description="environment variable that receives the proxied address")
    url: str = "http://{host}:{port}"
    name: str | None = Field(None, description="edge name; default '<from>-><to>'")
    timeout_param: str | None = Field(None, description="the parameter that is the caller's timeout on this edge")
    max_amplification: float | str | None = Field(
        None, description="explore: most calls per request this edge may carry under a fault, vs normal "
                          "(a number or an expression over parameters, e.g. 'attempts * 1.25')")


class ServiceSpec(Spec):
    command: list[str] = Field(min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    port: int | None = Field(None, ge=1, le=65535, description="port inside a container; the local runtime picks a free one")
    health: HealthSpec = Field(default_factory=HealthSpec)
    upstreams: list[UpstreamSpec] = Field(default_factory=list)
    metrics: str | None = None
    audit: str | None = Field(None, description="path answering the service's state, fetched at the end of a run")
    stop_timeout: Duration = 5.0

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
    description: str = ""
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
    env: str
    url: str
    timeout_param: str | None = None


class SystemSpec(Spec):
    name: str = Field(pattern=NAME_PATTERN, max_length=64)
    description: str = ""
    locustfile: str
    entry: str = Field(description="the service Locust sends load to")
    services: dict[str, ServiceSpec] = Field(min_length=1)
    defects: dict[str, DefectSpec] = Field(default_factory=dict)
    plugins: list[str] = Field(default_factory=list, description="Python files that register checks or faults")
    parameters: dict[str, str | int | float] = Field(
        default_factory=dict, description="the mechanism's configured numbers: {params.NAME} in env, bounds in checks")
    audits: dict[str, AuditSpec] = Field(default_factory=dict, description="reads of the system's effects")
    invariants: dict[str, InvariantSpec] = Field(default_factory=dict, description="predicates over the audits")
    quiescence: QuiescenceSpec = Field(default_factory=QuiescenceSpec)

    # Set by the loader, not read from the file.
    directory: Path = Field(default=Path("."), exclude=True)

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


def load_system(path: str | Path) -> SystemSpec:
    doc = read_yaml(path, what="system manifest")
    return parse_system(doc)


def parse_system(doc: YamlDocument) -> SystemSpec:
    if not isinstance(doc.data, dict):
        raise InputError("a system manifest must be a mapping with 'name', 'services', ...", file=str(doc.path))
    try:
        system = SystemSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, doc), file=str(doc.path)) from None
    system.directory = doc.path.resolve().parent
    problems = Problems(file=str(doc.path))
    check_system(system, doc, problems)
    if not system.locustfile_path.is_file():
        problems.add("locustfile", f"no such file: {system.locustfile_path}", doc.line_of(("locustfile",)))
    for plugin in system.plugins:
        if not (system.directory / plugin).is_file():
            problems.add("plugins", f"no such file: {system.directory / plugin}", doc.line_of(("plugins",)))
    _validate_effects(system, doc, problems)
    problems.raise_if_any()
    return system


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
