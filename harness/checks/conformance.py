"""Response conformance: every answer of an endpoint, degraded and partial ones included, has
the declared shape (a JSON Schema), and a degraded answer says that it is degraded.

It reads the response bodies that ``load.record_bodies`` puts on request records. Per answer:

    status      not in ``statuses`` (when given)                      -> non-conforming
    body        not JSON, or not valid against the status's schema    -> non-conforming
    degraded    its status is in ``degraded.status``, or a ``degraded.missing`` pointer is
                absent/null (a partial answer), but ``degraded.marker`` is not set -> non-conforming

A request with no answer (connection error, timeout) is not a response: it is counted and,
with ``no_answer: fail``, non-conforming. A body cut by the recording limit cannot be judged
and is counted as unchecked. Schemas are inline mappings or paths relative to the experiment
file, checked when the experiment is validated.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Literal

import yaml
from jsonschema import FormatChecker, exceptions, validators
from pydantic import Field, PrivateAttr, field_validator, model_validator

from ..journal import History, Record
from ..model import Spec
from .pointer import resolve_pointer, valid_pointer
from .registry import Outcome, check
from .selection import RequestFilter, select_requests
from .windows import Windows, WindowSpec

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec

SchemaRef = dict[str, Any] | str
"""An inline JSON Schema, or the path of a JSON/YAML file holding one (relative to the experiment)."""

EXCERPT = 200


class DegradedSpec(Spec):
    status: list[int] = Field(default_factory=list, description="answers with these HTTP statuses are degraded")
    missing: list[str] = Field(default_factory=list, description="JSON pointers: an answer where one is absent or "
                               "null is partial, so degraded")
    marker: str = Field(description="JSON pointer a degraded answer must carry, truthy (or equal to 'equals')")
    equals: Any = Field(None, description="the value the marker must have; default: any truthy value")

    @field_validator("missing", "marker")
    @classmethod
    def _pointers(cls, value: Any) -> Any:
        for p in ([value] if isinstance(value, str) else value):
            if not valid_pointer(p):
                raise ValueError(f"'{p}' is not a JSON pointer: use '' for the whole body or '/field/0/sub'")
        return value

    def marked(self, body: Any) -> bool:
        found, value = resolve_pointer(body, self.marker)
        if not found:
            return False
        return bool(value) if self.equals is None else value == self.equals

    def degraded_by_rule(self, status: int, body: Any) -> str | None:
        """Why this answer counts as degraded, or None."""
        if status in self.status:
            return f"status {status}"
        for p in self.missing:
            found, value = resolve_pointer(body, p)
            if not found or value is None:
                return f"{p} is missing"
        return None


class ConformanceParams(Spec):
    window: WindowSpec | None = None
    requests: RequestFilter | None = None
    json_schema: SchemaRef | None = Field(None, alias="schema", description="schema every answer's body must match")
    by_status: dict[int, SchemaRef] = Field(default_factory=dict, description="status -> schema, instead of 'schema'")
    statuses: list[int] | None = Field(None, description="the only acceptable statuses; default: any")
    degraded: DegradedSpec | None = None
    no_answer: Literal["ignore", "fail"] = Field("ignore", description="whether a request with no answer is non-conforming")
    max_nonconforming: int = Field(0, ge=0)
    min_responses: int = Field(10, ge=1, description="fewer judged answers than this -> unknown")
    min_degraded: int = Field(0, ge=0, description="fewer degraded answers than this -> unknown (the fault never bit)")
    max_examples: int = Field(10, ge=1, le=100)

    _loaded: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _has_a_schema(self) -> "ConformanceParams":
        if self.json_schema is None and not self.by_status:
            raise ValueError("give 'schema' (an inline JSON Schema or a file) or 'by_status' (status -> schema)")
        for key, ref in self._refs():
            if isinstance(ref, dict):
                _check_schema(ref, key)
        return self

    def _refs(self) -> list[tuple[str, SchemaRef]]:
        refs: list[tuple[str, SchemaRef]] = [("schema", self.json_schema)] if self.json_schema is not None else []
        return refs + [(f"by_status.{s}", ref) for s, ref in self.by_status.items()]

    def load_files(self, base: Path) -> list[tuple[str, str]]:
        """Load every schema given as a path, relative to ``base``; return problems as (message, field)."""
        problems = []
        for key, ref in self._refs():
            if isinstance(ref, str) and key not in self._loaded:
                try:
                    self._loaded[key] = _read_schema(base / ref)
                except ValueError as exc:
                    problems.append((str(exc), key.split(".")[0]))
        return problems

    def schema_for(self, status: int) -> dict[str, Any] | None:
        key, ref = (f"by_status.{status}", self.by_status[status]) if status in self.by_status else ("schema", self.json_schema)
        if ref is None:
            return None
        return ref if isinstance(ref, dict) else self._loaded[key]


def _check_schema(schema: dict[str, Any], where: str) -> None:
    try:
        validators.validator_for(schema, default=validators.Draft202012Validator).check_schema(schema)
    except exceptions.SchemaError as exc:
        raise ValueError(f"{where} is not a valid JSON Schema: {exc.message} (at {exc.json_path})") from None


def _read_schema(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read schema file {path}: {exc.strerror or exc}") from None
    try:
        schema = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"schema file {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(schema, dict):
        raise ValueError(f"schema file {path} must hold a mapping (a JSON Schema object)")
    _check_schema(schema, f"schema file {path}")
    return schema


def _references(p: ConformanceParams, exp: "ExperimentSpec") -> Iterable[tuple[str, str]]:
    return p.load_files(exp.path.parent)


class _Validators:
    """One compiled validator per schema object, with format checking (``format: date`` is enforced)."""

    def __init__(self) -> None:
        self._cache: dict[int, Any] = {}

    def problem(self, schema: dict[str, Any], body: Any) -> str | None:
        v = self._cache.get(id(schema))
        if v is None:
            cls = validators.validator_for(schema, default=validators.Draft202012Validator)
            v = self._cache[id(schema)] = cls(schema, format_checker=FormatChecker())
        error = exceptions.best_match(v.iter_errors(body))
        if error is None:
            return None
        return f"{error.json_path}: {_cut(error.message)}"


def _ms(ms: Any) -> float | None:
    return round(float(ms), 2) if isinstance(ms, (int, float)) else None


def _cut(text: str, n: int = EXCERPT) -> str:
    return text if len(text) <= n else text[:n] + "..."


def judge(r: Record, p: ConformanceParams, vals: _Validators) -> tuple[str, str | None, bool]:
    """(state, problem, degraded) for one request: state is ok | bad | unchecked | no_answer."""
    status = r.get("status")
    if status is None:
        return ("bad" if p.no_answer == "fail" else "no_answer"), "no answer: " + str(r.get("error")), False
    if p.statuses is not None and status not in p.statuses:
        return "bad", f"status {status} is not one of {p.statuses}", False
    schema = p.schema_for(status)
    if "body" not in r or r.get("body_truncated"):
        return "unchecked", None, bool(p.degraded and status in p.degraded.status)
    try:
        body = json.loads(r["body"])
    except ValueError:
        return "bad", "body is not JSON", bool(p.degraded and status in p.degraded.status)
    degraded = p.degraded.degraded_by_rule(status, body) if p.degraded else None
    marked = p.degraded.marked(body) if p.degraded else False
    if schema is not None:
        problem = vals.problem(schema, body)
        if problem is not None:
            return "bad", problem, degraded is not None or marked
    if degraded is not None and not marked:
        assert p.degraded is not None
        return "bad", f"degraded answer ({degraded}) does not say so: {p.degraded.marker or '(body)'} is not set", True
    return "ok", None, degraded is not None or marked


@check("conformance", ConformanceParams, refs=_references)
def conformance(history: History, p: ConformanceParams, windows: Windows) -> Outcome:
    """Every answer of an endpoint matches its declared schema, and degraded answers say they are degraded."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "filter": p.requests.describe() if p.requests else "all requests"}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    base = Path(history.run.get("experiment_path") or ".").parent
    problems = p.load_files(base)  # already loaded at validation; this serves histories re-checked alone
    if problems:
        return Outcome("unknown", "; ".join(m for m, _ in problems), evidence)
    origin = windows.origin or 0.0
    vals = _Validators()
    counts = {"ok": 0, "bad": 0, "unchecked": 0, "no_answer": 0}
    statuses: dict[str, int] = {}
    kinds: dict[str, int] = {}
    degraded = 0
    examples: list[dict[str, Any]] = []
    reqs = select_requests(history.requests, w, p.requests)
    for r in reqs.rows():  # one answer at a time: a body's schema is judged per answer
        state, problem, is_degraded = judge(r, p, vals)
        counts[state] += 1
        degraded += is_degraded
        statuses[str(r.get("status"))] = statuses.get(str(r.get("status")), 0) + 1
        if state == "bad":
            kind = f"status {r.get('status')}: {problem}"
            kinds[kind] = kinds.get(kind, 0) + 1
            if len(examples) < p.max_examples:
                # The problem before the body: in a report's table it is what a reader needs first.
                examples.append({"at_s": round(r["t"] - origin, 3), "status": r.get("status"), "problem": problem,
                                 "body": _cut(str(r.get("body", ""))), "ms": _ms(r.get("ms")), "name": r.get("name")})
    judged = counts["ok"] + counts["bad"]
    evidence.update(requests=len(reqs), conforming=counts["ok"], non_conforming=counts["bad"],
                    unchecked=counts["unchecked"], no_answer=counts["no_answer"], degraded=degraded, statuses=statuses,
                    problems=dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:10]), non_conforming_examples=examples)
    where = f"in '{w.label}'"
    if counts["bad"] > p.max_nonconforming:
        first = examples[0]
        return Outcome("failed", f"{counts['bad']} of {judged} answers {where} do not conform (max {p.max_nonconforming}); "
                                 f"first at {first['at_s']:.1f}s: status {first['status']}: {first['problem']}", evidence)
    if reqs and not reqs.has_bodies:
        return Outcome("unknown", f"no response bodies recorded {where}: set load.record_bodies in the experiment", evidence)
    if judged < p.min_responses:
        return Outcome("unknown", f"only {judged} answers could be judged {where} (need {p.min_responses}; "
                                  f"{counts['unchecked']} unchecked, {counts['no_answer']} without an answer)", evidence)
    if degraded < p.min_degraded:
        return Outcome("unknown", f"only {degraded} degraded answers {where} (need {p.min_degraded}): the degraded "
                                  f"shape was not exercised", evidence)
    conform = f"all {judged} answers" if not counts["bad"] else f"{counts['ok']} of {judged} answers"
    return Outcome("passed", f"{conform} {where} conform ({degraded} degraded; {counts['bad']} non-conforming, "
                             f"max {p.max_nonconforming})", evidence)
