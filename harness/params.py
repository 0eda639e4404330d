"""Manifest parameters, and bounds derived from them.

A manifest's ``parameters:`` section names the numbers a resilience mechanism is configured
with (``part_deadline: 500ms``, ``breaker_threshold: 5``). The same numbers then reach

- the services, through ``{params.NAME}`` in ``command`` and ``env`` (durations render in
  seconds, ``{params.NAME.ms}`` in milliseconds), so the mechanism and its checks share one
  source of truth;
- the checks and fault attributes of experiments, wherever a number or a duration is
  expected: ``max: {param: part_deadline, margin: 10%}`` or ``max: "part_deadline + 50ms"``.

Derived values are computed when the experiment is validated; each derivation is kept
(``Derivation``) so a check's evidence can show how its bound was obtained.
"""
from __future__ import annotations

import ast
import operator
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal

from pydantic import BaseModel

from .durations import parse_duration
from .registry import UnknownEntry

PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
"""Parameter names are identifiers, so expressions can use them."""

Kind = Literal["duration", "number", "text"]


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: Kind
    value: float | str
    """Seconds for a duration, the number for a number, the string for text."""
    raw: Any

    @classmethod
    def parse(cls, name: str, raw: Any) -> "Parameter":
        """``500ms`` -> duration, ``5`` -> number, any other string -> text. Raises ValueError."""
        if not PARAM_NAME.match(name):
            raise ValueError(f"parameter name '{name}' must be lowercase letters, digits and _ (an identifier), "
                             "so bound expressions can use it")
        if isinstance(raw, bool) or raw is None or isinstance(raw, (list, dict)):
            raise ValueError(f"parameter '{name}' must be a duration ('500ms'), a number or a string, got {raw!r}")
        if isinstance(raw, (int, float)):
            return cls(name, "number", raw, raw)
        try:
            return cls(name, "duration", parse_duration(raw), raw)
        except ValueError:
            return cls(name, "text", str(raw), raw)

    def describe(self) -> str:
        if self.kind == "duration":
            return format_seconds(float(self.value))
        return str(self.value)


def format_seconds(seconds: float) -> str:
    """``0.5`` -> ``500ms``, ``2.0`` -> ``2s``: how a person writes a derived duration."""
    ms = round(seconds * 1000, 3)
    if ms >= 1000 and ms % 1000 == 0:
        return f"{_plain(ms / 1000)}s"
    return f"{_plain(ms)}ms"


def _plain(x: float) -> str:
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return text or "0"


# -- {params.NAME} in command and env --------------------------------------------------------

class RenderedParam(str):
    """One parameter as a template sees it: ``{params.x}`` (seconds for a duration), ``{params.x.ms}``,
    ``{params.x.s}``."""

    ms: str
    s: str

    def __new__(cls, p: Parameter) -> "RenderedParam":
        if p.kind == "duration":
            seconds = float(p.value)
            self = super().__new__(cls, _plain(seconds))
            self.ms, self.s = _plain(seconds * 1000), _plain(seconds)
        else:
            self = super().__new__(cls, str(p.value))
            self.ms = self.s = str(p.value)
        return self


class ParamValues:
    """``{params.NAME}`` in a manifest template; an unknown name is an error listing the known ones."""

    def __init__(self, params: dict[str, Parameter]):
        self._values = {name: RenderedParam(p) for name, p in params.items()}

    def __getattr__(self, name: str) -> RenderedParam:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise UnknownEntry("parameter", name, sorted(self._values)) from None


# -- bounds derived from parameters -----------------------------------------------------------

@dataclass(frozen=True)
class Quantity:
    """A value with a dimension: 1 = seconds, 0 = a plain number."""

    value: float
    dim: int

    def render(self) -> str:
        return format_seconds(self.value) if self.dim == 1 else _plain(self.value)


@dataclass
class Derivation:
    """How one field's value was derived: shown in the check's evidence and summary."""

    field: str
    expression: str
    parameters: dict[str, str]
    value: str

    def describe(self) -> str:
        used = ", ".join(f"{k} = {v}" for k, v in self.parameters.items())
        return f"{self.field} = {self.expression} = {self.value} ({used})"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "expression": self.expression, "parameters": self.parameters, "value": self.value}


class DerivationError(ValueError):
    def __init__(self, path: tuple[str | int, ...], message: str):
        self.path = path
        super().__init__(message)


_UNIT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(ms|s|m|h)\b")
_BINOPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def evaluate_bound(text: str, params: dict[str, Parameter]) -> tuple[Quantity, list[str]]:
    """``"part_deadline + 50ms"`` -> (Quantity, parameter names used). Raises ValueError.

    Arithmetic only (``+ - * /``, parentheses), over numbers, durations written with a unit
    and duration or number parameters; dimensions are checked (a number plus a duration is an
    error, a duration divided by a duration is a number).
    """
    units: dict[str, float] = {}

    def unit(m: re.Match[str]) -> str:
        key = f"__d{len(units)}"
        units[key] = parse_duration(m.group(0))
        return key

    try:
        tree = ast.parse(_UNIT.sub(unit, text), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot read {text!r} as a bound: write e.g. 'part_deadline + 50ms' or "
                         "'try_timeout * attempts'") from None
    used: list[str] = []

    def ev(node: ast.AST) -> Quantity:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return Quantity(float(node.value), 0)
        if isinstance(node, ast.Name):
            if node.id in units:
                return Quantity(units[node.id], 1)
            p = params.get(node.id)
            if p is None:
                raise ValueError(f"unknown parameter '{node.id}' in {text!r}; "
                                 f"parameters: {', '.join(sorted(params)) or 'none'}")
            if p.kind == "text":
                raise ValueError(f"parameter '{node.id}' is text ({p.raw!r}), not a number or a duration")
            if node.id not in used:
                used.append(node.id)
            return Quantity(float(p.value), 1 if p.kind == "duration" else 0)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            q = ev(node.operand)
            return Quantity(-q.value if isinstance(node.op, ast.USub) else q.value, q.dim)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, (ast.Add, ast.Sub)):
                if a.dim != b.dim:
                    raise ValueError(f"cannot add or subtract a number and a duration in {text!r}")
                dim = a.dim
            elif isinstance(node.op, ast.Mult):
                dim = a.dim + b.dim
            else:
                if b.value == 0:
                    raise ValueError(f"division by zero in {text!r}")
                dim = a.dim - b.dim
            if dim not in (0, 1):
                raise ValueError(f"{text!r} does not come out as a number or a duration")
            return Quantity(_BINOPS[type(node.op)](a.value, b.value), dim)
        raise ValueError(f"only + - * / ( ), numbers, durations and parameters may appear in a bound, not "
                         f"{ast.get_source_segment(text, node) or type(node).__name__!r} in {text!r}")

    return ev(tree), used


def _mapping_expression(spec: dict[str, Any], params: dict[str, Parameter]) -> str:
    """``{param: x, times: 2, margin: 10%}`` as the equivalent expression text."""
    unknown = set(spec) - {"param", "times", "margin"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))} in a parameter reference; "
                         "known: param, times, margin")
    name = spec.get("param")
    if not isinstance(name, str):
        raise ValueError("'param' must name a parameter")
    text = name
    times = spec.get("times")
    if times is not None:
        if isinstance(times, bool) or not isinstance(times, (int, float)):
            raise ValueError(f"'times' must be a number, got {times!r}")
        text = f"{name} * {_plain(float(times))}"
    margin = spec.get("margin")
    if margin is None:
        return text
    if isinstance(margin, str) and margin.endswith("%"):
        try:
            pct = float(margin[:-1])
        except ValueError:
            raise ValueError(f"margin {margin!r} is not a percentage like '10%'") from None
        return f"({text}) * {_plain(1 + pct / 100)}" if times is not None else f"{text} * {_plain(1 + pct / 100)}"
    if isinstance(margin, bool) or not isinstance(margin, (int, float, str)):
        raise ValueError(f"margin must be a percentage ('10%'), a duration ('50ms') or a number, got {margin!r}")
    return f"{text} + {margin}"


def _looks_like_bound(text: str, params: dict[str, Parameter]) -> bool:
    """A string is a parameter expression only if it names a declared parameter (and is no plain duration)."""
    try:
        parse_duration(text)
        return False
    except ValueError:
        pass
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", _UNIT.sub("0", text)))
    return bool(names) and bool(names & set(params))


def derive(raw: Any, model: type[BaseModel], params: dict[str, Parameter],
           path: tuple[str | int, ...] = ()) -> tuple[Any, list[Derivation]]:
    """Replace parameter references in ``raw`` (a check's parameters, a fault's attributes) by values.

    Only where ``model`` takes a number or a duration (nested models are followed), so a
    text field such as a PromQL query is never rewritten. Returns the new mapping and how
    each value was derived. Raises DerivationError naming the field.
    """
    if not isinstance(raw, dict):
        return raw, []
    out = dict(raw)
    found: list[Derivation] = []
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    for key, value in raw.items():
        info = fields.get(key)
        if info is None:
            continue  # the model reports unknown fields itself
        where = path + (key,)
        sub = _submodel(info.annotation)
        if sub is not None and isinstance(value, dict) and "param" not in value:
            out[key], inner = derive(value, sub, params, where)
            found.extend(inner)
            continue
        if not _numeric(info.annotation):
            continue
        if isinstance(value, dict) and "param" in value:
            try:
                text = _mapping_expression(value, params)
            except ValueError as exc:
                raise DerivationError(where, str(exc)) from None
        elif isinstance(value, str) and _looks_like_bound(value, params):
            text = value
        else:
            continue
        try:
            q, used = evaluate_bound(text, params)
        except ValueError as exc:
            raise DerivationError(where, str(exc)) from None
        if q.value < 0:
            raise DerivationError(where, f"{text!r} comes out negative ({q.render()})")
        # A duration goes in as "<n>ms", which duration fields and whole-millisecond fault
        # attributes both read; rounded to whole milliseconds (finer means nothing over a network).
        out[key] = f"{round(q.value * 1000)}ms" if q.dim == 1 else q.value
        shown = Quantity(round(q.value * 1000) / 1000, 1) if q.dim == 1 else q
        found.append(Derivation(".".join(str(p) for p in where), text,
                                {n: params[n].describe() for n in used}, shown.render()))
    return out, found


def _arms(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [a for arm in typing.get_args(annotation) for a in _arms(arm)]
    if origin is typing.Annotated:
        return _arms(typing.get_args(annotation)[0])
    return [annotation]


def _numeric(annotation: Any) -> bool:
    """A number or a duration, or a type that says it reads one (checks.shift.Shift: an increase)."""
    return any(a in (int, float) or getattr(a, "param_derivable", False) is True for a in _arms(annotation))


def _submodel(annotation: Any) -> type[BaseModel] | None:
    for a in _arms(annotation):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None
