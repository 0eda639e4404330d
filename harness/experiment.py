"""Typed model of an experiment file, its loader and its validation.

Validation happens in two passes, like Toxiproxy's toxic envelopes: the envelope first
(``type``, timing, target), then the type-specific attributes or parameters against the model
that the fault or check registry holds for that type. Every problem names the file, the field
path and the line, and says what would be valid; all problems are reported at once.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from . import plugins
from .catalog import builtin_systems, missing_hint, resolve_system
from .checks.registry import check_types
from .durations import Duration
from .errors import InputError, Problem, Problems
from .faults import FAULT_TYPES as fault_types
from .faults.capabilities import explicit_server_problem
from .load.dependencies import load_paths
from .load.locustfile_check import locustfile_problems
from .model import Spec
from .params import Derivation, DerivationError, derive
from .registry import Scope, UnknownEntry
from .system import NAME_PATTERN, SystemSpec, load_system
from .yamlfile import YamlDocument, format_loc, is_file, problems_from_validation, read_yaml


class LoadSpec(Spec):
    users: int = Field(10, ge=1, le=10_000, description="Locust users (concurrent clients)")
    spawn_rate: float = Field(10.0, gt=0, le=10_000, description="users started per second")
    duration: Duration = Field(description="how long load runs; faults are timed from its start")
    user_classes: list[str] = Field(default_factory=list, description="Locust user classes; default: all in the locustfile")
    locustfile: str | None = Field(None, description="override the system's locustfile (relative to the experiment)")
    record_bodies: int = Field(0, ge=0, le=1_000_000, description="record the first N bytes of every response "
                               "body as the request's 'body' (0 = off); checks of response content need it")
    workers: int = Field(0, ge=0, le=64, description="0: one Locust process; N: Locust's master and N workers "
                         "(load that outgrows one process); --workers overrides it")


class FaultSpec(Spec):
    name: str | None = Field(None, pattern=NAME_PATTERN, max_length=64,
                             description="checks and windows name the fault by this; default '<type>-<n>'")
    type: str = Field(description="the fault type (harness list): latency, down, kill, http_status, ...")
    edge: str | None = Field(None, description="network faults: the edge, 'caller->callee' or 'load->SERVICE'")
    service: str | None = Field(None, description="process faults: the service")
    attributes: dict[str, Any] = Field(default_factory=dict, description="the fault type's own attributes")
    stream: Literal["downstream", "upstream"] = Field("downstream", description="network faults: the direction "
                                                      "faulted (downstream: answers; upstream: requests)")
    toxicity: float = Field(1.0, ge=0.0, le=1.0, description="share of connections (HTTP faults: of requests) affected")
    start: Duration = Field(description="when to apply, from the start of load")
    duration: Duration | None = Field(None, description="how long it lasts; default: until load ends")

    # Filled by validation: the attributes parsed by the fault type's own model.
    parsed_attributes: Any = Field(None, exclude=True)
    _derived: list[Derivation] = PrivateAttr(default_factory=list)
    """Attributes computed from the manifest's parameters, and how."""


class CheckSpec(BaseModel):
    """Envelope of a check: ``type`` and ``name``; every other key is a parameter of the type."""

    model_config = ConfigDict(extra="allow")
    type: str
    name: str | None = Field(None, max_length=120)
    description: str = ""

    parsed_params: Any = Field(None, exclude=True)
    _derived: list[Derivation] = PrivateAttr(default_factory=list)
    """Bounds computed from the manifest's parameters, and how (shown with the check's evidence)."""

    @property
    def derived(self) -> list[Derivation]:
        return self._derived

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SteadyStateSpec(Spec):
    warmup: Duration = Field(3.0, description="load time ignored before the 'before' window starts")
    settle: Duration = Field(5.0, description="time after the last fault ends before the 'after' window starts")
    conditions: list[CheckSpec] = Field(default_factory=list, description="checks evaluated over 'before' and 'after'")


class ExperimentSpec(Spec):
    name: str = Field(pattern=NAME_PATTERN, max_length=64, description="the experiment's name (run folder names)")
    description: str = Field("", description="what the experiment proves, shown in the report")
    system: str = Field(description="a built-in system's name, or a path to a system.yaml (relative to this file)")
    seed: int = Field(0, description="seeds the load's randomness; recorded, --seed overrides")
    load: LoadSpec
    faults: list[FaultSpec] = Field(default_factory=list, description="faults on a timeline from the start of load")
    steady_state: SteadyStateSpec = Field(default_factory=SteadyStateSpec)
    checks: list[CheckSpec] = Field(default_factory=list, description="resilience checks over the recorded history")

    path: Path = Field(default=Path("."), exclude=True)
    system_spec: SystemSpec | None = Field(None, exclude=True)
    _plugin_scope: Scope = PrivateAttr(default_factory=Scope)

    @property
    def plugin_scope(self) -> Scope:
        """The registries' view this experiment is validated and run in: its system's plugins."""
        return self._plugin_scope

    @property
    def target(self) -> SystemSpec:
        assert self.system_spec is not None, "experiment was not validated"
        return self.system_spec

    @property
    def load_edges(self) -> set[str]:
        """The load-path edges (``load->SERVICE``) this run interposes: the manifest's, and those a fault names."""
        faulted = {f.edge for f in self.faults if f.edge is not None and f.edge in self.target.load_edges}
        return self.target.declared_load_edges | faulted

    def fault_end(self, fault: FaultSpec) -> float:
        return fault.start + fault.duration if fault.duration is not None else self.load.duration


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Parse and fully validate an experiment file (including its system manifest)."""
    doc = read_yaml(path, what="experiment file")
    return parse_experiment(doc)


def parse_experiment(doc: YamlDocument) -> ExperimentSpec:
    file = str(doc.path)
    if not isinstance(doc.data, dict):
        raise InputError("an experiment file must be a mapping with 'name', 'system', 'load', ...", file=file)
    try:
        exp = ExperimentSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(problems_from_validation(exc, doc), file=file) from None
    exp.path = doc.path.resolve()
    problems = Problems(file=file)

    exp.system_spec = _load_target(exp, doc)
    exp._plugin_scope = plugins.load_for(exp.target)

    with exp.plugin_scope.active():  # only this system's plugins (and installed ones) name types here
        _validate_load(exp, doc, problems)
        _validate_faults(exp, doc, problems)
        for group, specs in (("checks", exp.checks), ("steady_state.conditions", exp.steady_state.conditions)):
            for i, spec in enumerate(specs):
                loc = tuple(group.split(".")) + (i,)
                _validate_check(spec, loc, exp, doc, problems, steady=(group != "checks"))
    problems.raise_if_any()
    return exp


def _load_target(exp: ExperimentSpec, doc: YamlDocument) -> SystemSpec:
    """The manifest ``system:`` names; its problems are reported under this file's ``system`` field too."""
    here = Problem(path="system", message="", line=doc.line_of(("system",)))
    try:
        manifest = resolve_system(exp.system, exp.path.parent)
    except (OSError, ValueError) as exc:  # a name too long for the file system, ...
        here.message = f"{exp.system[:120]!r} is not a usable path: {getattr(exc, 'strerror', None) or exc}"
        raise InputError([here], file=str(doc.path)) from None
    if manifest is None:
        builtin = builtin_systems(near=exp.path.parent)
        known = ", ".join(builtin) if builtin else f"none ({missing_hint(exp.path.parent)})"
        here.message = (f"unknown system {exp.system[:120]!r}: not a manifest path and not a built-in system; "
                        f"built-in: {known}")
        raise InputError([here], file=str(doc.path))
    try:
        return load_system(manifest)
    except InputError as exc:
        n = len(exc.problems)
        here.message = f"the system manifest {manifest} is invalid ({n} problem{'s' if n > 1 else ''} below)"
        inner = [Problem(p.path, p.message, p.line, file=p.file or exc.file) for p in exc.problems]
        raise InputError([here, *inner], file=str(doc.path)) from None


def _validate_load(exp: ExperimentSpec, doc: YamlDocument, problems: Problems) -> None:
    locustfile = exp.target.locustfile_path
    field: tuple[str | int, ...] = ("load", "user_classes")
    if exp.load.locustfile:
        locustfile = exp.path.parent / exp.load.locustfile
        field = ("load", "locustfile")
        if not is_file(locustfile):
            problems.add("load.locustfile", f"no such file: {locustfile}", doc.line_of(field))
            return
    try:
        deps = load_paths(exp.target, install=False)  # validation never installs; a cached set is searched
    except InputError as exc:
        for p in exc.problems:
            problems.add("system", f"{exc.file}: {p.message}", doc.line_of(("system",)))
        return
    for line, message in locustfile_problems(locustfile, exp.load.user_classes, extra_paths=deps.paths,
                                             imports_pending=deps.pending):
        where = field if "user class" in message else ("load", "locustfile") if exp.load.locustfile else ("system",)
        problems.add(format_loc(where), message + (f" (line {line})" if line and "line" not in message else ""),
                     doc.line_of(where))


def _validate_faults(exp: ExperimentSpec, doc: YamlDocument, problems: Problems) -> None:
    edges = exp.target.fault_edges  # service-to-service edges and the load path's (load->SERVICE)
    services = exp.target.services
    seen: set[str] = set()
    for i, fault in enumerate(exp.faults):
        loc: tuple[str | int, ...] = ("faults", i)
        if fault.name is None:
            fault.name = f"{fault.type}-{i + 1}"
        if fault.name in seen:
            problems.add(format_loc(loc + ("name",)), f"fault name '{fault.name}' is used twice", doc.line_of(loc + ("name",)))
        seen.add(fault.name)
        try:
            ftype = fault_types.get(fault.type)
        except UnknownEntry as exc:
            problems.add(format_loc(loc + ("type",)), str(exc), doc.line_of(loc + ("type",)))
            continue
        stream_given = "stream" in fault.model_fields_set
        if ftype.needs_http_toxics and (stock := explicit_server_problem()):
            problems.add(format_loc(loc + ("type",)), f"fault type '{fault.type}' cannot run here: {stock}",
                         doc.line_of(loc + ("type",)))
        kind = ftype.target_kind  # "edge" for network faults, "service" for process faults
        other = "service" if kind == "edge" else "edge"
        known = list(edges) if kind == "edge" else list(services)
        target = getattr(fault, kind)
        if getattr(fault, other) is not None:
            problems.add(format_loc(loc + (other,)), f"fault type '{fault.type}' acts on {_a(kind)}, not {_a(other)}; "
                         f"give '{kind}:' instead", doc.line_of(loc + (other,)))
        if target is None:
            problems.add(format_loc(loc), f"fault type '{fault.type}' needs '{kind}'; {kind}s: {', '.join(known) or 'none'}",
                         doc.line_of(loc))
        elif target not in known:
            problems.add(format_loc(loc + (kind,)), f"system '{exp.target.name}' has no {kind} '{target}'; "
                         f"{kind}s: {', '.join(known) or 'none'}", doc.line_of(loc + (kind,)))
        elif kind == "service" and services[target].external:
            problems.add(format_loc(loc + ("service",)), f"service '{target}' is already running (address: "
                         f"{services[target].address}); the harness did not start it and never kills, stops or pauses "
                         "it. Fault the edges to it instead", doc.line_of(loc + ("service",)))
        if not ftype.per_connection:
            for field in ("stream", "toxicity"):
                if field in fault.model_fields_set:
                    problems.add(format_loc(loc + (field,)), f"fault type '{fault.type}' acts on the whole "
                                 f"{ftype.target_kind}; it takes no '{field}'", doc.line_of(loc + (field,)))
        elif not stream_given:
            fault.stream = ftype.default_stream  # HTTP faults act on requests unless told otherwise
        try:
            attributes, fault._derived = derive(fault.attributes, ftype.Attributes, exp.target.params)
            fault.parsed_attributes = ftype.Attributes.model_validate(attributes)
        except DerivationError as exc:
            where = loc + ("attributes",) + exc.path
            problems.add(format_loc(where), str(exc), doc.line_of(where))
        except ValidationError as exc:
            for p in problems_from_validation(exc, doc, prefix=loc + ("attributes",)):
                problems.items.append(p)
        if fault.start >= exp.load.duration:
            problems.add(format_loc(loc + ("start",)),
                         f"starts at {fault.start:g}s but load lasts only {exp.load.duration:g}s", doc.line_of(loc + ("start",)))
        elif exp.fault_end(fault) > exp.load.duration:
            problems.add(format_loc(loc + ("duration",)),
                         f"ends at {exp.fault_end(fault):g}s, after load ends at {exp.load.duration:g}s",
                         doc.line_of(loc + ("duration",)))


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _validate_check(spec: CheckSpec, loc: tuple[str | int, ...], exp: ExperimentSpec, doc: YamlDocument,
                    problems: Problems, steady: bool) -> None:
    try:
        ctype = check_types.get(spec.type)
    except UnknownEntry as exc:
        problems.add(format_loc(loc + ("type",)), str(exc), doc.line_of(loc + ("type",)))
        return
    params = spec.params
    if steady and "window" in params:
        problems.add(format_loc(loc + ("window",)), "steady-state conditions are evaluated over the 'before' and 'after' "
                     "windows; remove 'window' (or move this to 'checks')", doc.line_of(loc + ("window",)))
        return
    try:
        params, spec._derived = derive(params, ctype.Params, exp.target.params)
    except DerivationError as exc:
        problems.add(format_loc(loc + exc.path), str(exc), doc.line_of(loc + exc.path))
        return
    try:
        spec.parsed_params = ctype.Params.model_validate(params)
    except ValidationError as exc:
        problems.items.extend(problems_from_validation(exc, doc, prefix=loc))
        return
    if spec.name is None:
        spec.name = spec.type.replace("_", "-")
    for message, field in ctype.references(spec.parsed_params, exp):
        problems.add(format_loc(loc + (field,)), message, doc.line_of(loc + (field,)))
