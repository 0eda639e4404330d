"""The invariant language: a small, safe subset of Python expressions over audit results.

    count(charges[status == 'charged' and saga_id not in sagas[state == 'completed'].id]) == 0
    sum(accounts.initial) - sum(accounts.balance) == sum(charges[status == 'charged'].amount)
    count(duplicates(events.id)) == 0
    totals.debited == totals.charged

Values are what the audits read: lists of rows (mappings), single rows, numbers, strings.

- ``rows.col``: a row's field; on a list of rows, the list of that field.
- ``rows[condition]``: the rows for which the condition holds; inside it, the row's fields
  are names (and ``it`` is the element itself, for lists of plain values). ``rows[0]`` and
  ``row['key']`` index as usual.
- ``and or not``, ``== != < <= > >=`` (chains too), ``in`` / ``not in``, ``+ - * / // %``.
- functions: ``count`` (= ``len``), ``sum``, ``min``, ``max``, ``avg``, ``abs``, ``round``,
  ``distinct``, ``duplicates``, ``sorted``, ``any``, ``all``, ``first``, ``keys``, ``values``.

Anything else (attribute calls, lambdas, comprehensions, imports) is refused when the
manifest is loaded. Evaluation records the value of every comparison operand, call and
filter (a trace), so a violated invariant shows the offending rows, not just ``False``.
"""
from __future__ import annotations

import ast
import json
import math
import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

MAX_TRACE_ROWS = 20


class ExprError(ValueError):
    """The expression cannot be read (at load time) or evaluated (over these values)."""


def _count(x: Any) -> int:
    if isinstance(x, (list, dict, str)):
        return len(x)
    raise ExprError(f"count() needs a list, got {_kind(x)}")


def _numbers(x: Any, fn: str) -> list[float]:
    if not isinstance(x, list):
        raise ExprError(f"{fn}() needs a list, got {_kind(x)}")
    out = []
    for v in x:
        if v is None:
            continue  # SQL's NULL: aggregates skip it, as SQL's do
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExprError(f"{fn}() needs numbers, got {_kind(v)} {_short(v)}")
        out.append(v)
    return out


def _sum(x: Any) -> float:
    return sum(_numbers(x, "sum"))


def _avg(x: Any) -> float | None:
    vs = _numbers(x, "avg")
    return sum(vs) / len(vs) if vs else None


def _extreme(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        values = args[0] if len(args) == 1 else list(args)
        if not isinstance(values, list):
            raise ExprError(f"{name}() needs a list or several values, got {_kind(values)}")
        values = [v for v in values if v is not None]
        return fn(values) if values else None
    return call


def _distinct(x: Any) -> list[Any]:
    if not isinstance(x, list):
        raise ExprError(f"distinct() needs a list, got {_kind(x)}")
    seen: dict[str, Any] = {}
    for v in x:
        seen.setdefault(_key(v), v)
    return list(seen.values())


def _duplicates(x: Any) -> list[Any]:
    """The values that occur more than once (each listed once)."""
    if not isinstance(x, list):
        raise ExprError(f"duplicates() needs a list, got {_kind(x)}")
    counts = Counter(_key(v) for v in x)
    out: dict[str, Any] = {}
    for v in x:
        if counts[_key(v)] > 1:
            out.setdefault(_key(v), v)
    return list(out.values())


def _first(x: Any) -> Any:
    if not isinstance(x, list):
        raise ExprError(f"first() needs a list, got {_kind(x)}")
    return x[0] if x else None


def _mapping(fn: Callable[[dict[str, Any]], Any], name: str) -> Callable[[Any], list[Any]]:
    def call(x: Any) -> list[Any]:
        if not isinstance(x, dict):
            raise ExprError(f"{name}() needs a mapping, got {_kind(x)}")
        return list(fn(x))
    return call


def _bools(fn: Callable[[list[Any]], bool], name: str) -> Callable[[Any], bool]:
    def call(x: Any) -> bool:
        if not isinstance(x, list):
            raise ExprError(f"{name}() needs a list, got {_kind(x)}")
        return fn(x)
    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "count": _count, "len": _count, "sum": _sum, "avg": _avg,
    "min": _extreme(min, "min"), "max": _extreme(max, "max"),
    "abs": lambda x: abs(x), "round": lambda x, n=0: round(x, int(n)),
    "distinct": _distinct, "duplicates": _duplicates, "first": _first,
    "sorted": lambda x: (sorted(x, key=_sort_key) if isinstance(x, list)
                         else _fail(f"sorted() needs a list, got {_kind(x)}")),
    "any": _bools(any, "any"), "all": _bools(all, "all"),
    "keys": _mapping(lambda d: d.keys(), "keys"), "values": _mapping(lambda d: d.values(), "values"),
}

_BIN: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_CMP: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: _eq(a, b), ast.NotEq: lambda a, b: not _eq(a, b), ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: _contains(b, a), ast.NotIn: lambda a, b: not _contains(b, a)}
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
            ast.Compare, ast.Call, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Attribute,
            ast.Subscript, *_BIN, *_CMP)
ROW_NAME = "it"


def _fail(message: str) -> Any:
    raise ExprError(message)


@dataclass
class Expression:
    text: str
    tree: ast.Expression
    names: set[str]
    """Free names outside any filter: these must be audits."""

    @classmethod
    def parse(cls, text: str) -> "Expression":
        """Parse and vet; raises ExprError saying what is not allowed, and where."""
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExprError(f"cannot parse {text!r}: {exc.msg} at column {exc.offset}") from None
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                seg = ast.get_source_segment(text.strip(), node) or type(node).__name__
                raise ExprError(f"{type(node).__name__.lower()} is not allowed in an invariant: {seg!r}")
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                    what = ast.get_source_segment(text.strip(), node.func) or "?"
                    raise ExprError(f"unknown function {what!r}; functions: {', '.join(sorted(FUNCTIONS))}")
                if node.keywords:
                    raise ExprError(f"{node.func.id}() takes no keyword arguments")
            if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
                raise ExprError(f"constant {node.value!r} is not allowed")
        return cls(text.strip(), tree, _outer_names(tree.body))


def _outer_names(node: ast.AST) -> set[str]:
    """Names used outside filter brackets (inside, a name may be a column of the row)."""
    if isinstance(node, ast.Name):
        return set() if node.id in FUNCTIONS else {node.id}
    if isinstance(node, ast.Subscript):
        return _outer_names(node.value)  # a filter's names are resolved against each row first
    if isinstance(node, ast.Call):
        return set().union(*(_outer_names(a) for a in node.args)) if node.args else set()
    out: set[str] = set()
    for child in ast.iter_child_nodes(node):
        out |= _outer_names(child)
    return out


@dataclass
class TraceEntry:
    expression: str
    value: Any
    rows: int | None = None
    filter: bool = False
    """A ``rows[condition]``: its value is the rows that matched (often the offending ones)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"expression": self.expression, "value": _trim(self.value), "filter": self.filter}
        if self.rows is not None:
            out["count"] = self.rows
        return out


@dataclass
class Evaluation:
    holds: bool | None
    value: Any
    trace: list[TraceEntry] = field(default_factory=list)
    error: str | None = None


class _Evaluator:
    def __init__(self, expr: Expression, values: dict[str, Any]):
        self.expr, self.values = expr, values
        self.trace: list[TraceEntry] = []
        self._traced: set[int] = set()
        self._memo: dict[int, Any] = {}
        self._sets: dict[int, tuple[list[Any], frozenset[str]]] = {}
        self._names: dict[int, frozenset[str]] = {}

    def reads(self, node: ast.AST, scope: dict[str, Any]) -> bool:
        """Does the subtree read a name of ``scope`` (a row's fields)? Names collected once per node:
        inside a filter this is asked for every node of every row."""
        names = self._names.get(id(node))
        if names is None:
            names = self._names[id(node)] = _names_in(node)
        return not names.isdisjoint(scope)

    def seg(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.expr.text, node) or ast.unparse(node)

    def note(self, node: ast.AST, value: Any, scope: dict[str, Any] | None) -> None:
        # Only what does not depend on the row: inside a filter a row's node runs once per row.
        if isinstance(node, ast.Constant) or id(node) in self._traced:
            return
        if scope is None or not self.reads(node, scope):
            self._traced.add(id(node))
            self.trace.append(TraceEntry(self.seg(node), value, len(value) if isinstance(value, list) else None,
                                         isinstance(node, ast.Subscript)))

    def lookup(self, name: str, scope: dict[str, Any] | None) -> Any:
        if scope is not None and name in scope:
            return scope[name]
        if name in self.values:
            return self.values[name]
        known = sorted(self.values) + (sorted(scope) if scope else [])
        raise ExprError(f"unknown name '{name}'; known here: {', '.join(known) or 'none'}")

    def ev(self, node: ast.AST, scope: dict[str, Any] | None = None) -> Any:
        # A subtree that reads no row field gives the same value for every row: compute it once.
        if scope is not None and id(node) in self._memo:
            return self._memo[id(node)]
        value = self._ev(node, scope)
        if scope is not None and not self.reads(node, scope):
            self._memo[id(node)] = value
        return value

    def _ev(self, node: ast.AST, scope: dict[str, Any] | None) -> Any:
        if isinstance(node, ast.Expression):
            return self.ev(node.body, scope)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[node.id]
            return self.lookup(node.id, scope)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.ev(e, scope) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            result: Any = None
            for v in node.values:
                result = self.ev(v, scope)
                if isinstance(node.op, ast.And) and not result:
                    return result
                if isinstance(node.op, ast.Or) and result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            v = self.ev(node.operand, scope)
            if isinstance(node.op, ast.Not):
                return not v
            _need_number(v, self.seg(node))
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp):
            a, b = self.ev(node.left, scope), self.ev(node.right, scope)
            for v in (a, b):
                if v is None:
                    raise ExprError(f"null (SQL NULL or a missing value) in arithmetic: {self.seg(node)!r}")
            try:
                return _BIN[type(node.op)](a, b)
            except ZeroDivisionError:
                raise ExprError(f"division by zero in {self.seg(node)!r}") from None
            except TypeError:
                raise ExprError(f"cannot compute {self.seg(node)!r} with {_kind(a)} and {_kind(b)}") from None
        if isinstance(node, ast.Compare):
            left = self.ev(node.left, scope)
            self.note(node.left, left, scope)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.ev(comp, scope)
                self.note(comp, right, scope)
                try:
                    if isinstance(op, (ast.In, ast.NotIn)):
                        ok = self.contains(right, left) == isinstance(op, ast.In)
                    else:
                        ok = _CMP[type(op)](left, right)
                except TypeError:
                    raise ExprError(f"cannot compare {_kind(left)} and {_kind(right)} in {self.seg(node)!r}") from None
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            args = [self.ev(a, scope) for a in node.args]
            try:
                value = FUNCTIONS[node.func.id](*args)
            except ExprError:
                raise
            except TypeError as exc:
                raise ExprError(f"{self.seg(node)}: {exc}") from None
            self.note(node, value, scope)
            return value
        if isinstance(node, ast.Attribute):
            return self.field(self.ev(node.value, scope), node.attr, node)
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value, scope)
            if isinstance(node.slice, ast.Constant):
                return self.index(base, node.slice.value, node)
            if isinstance(base, dict):
                return self.index(base, self.ev(node.slice, scope), node)
            if not isinstance(base, list):
                raise ExprError(f"cannot filter {_kind(base)} in {self.seg(node)!r}: only lists of rows")
            kept = [row for row in base if self.ev(node.slice, _row_scope(row, scope))]
            self.note(node, kept, scope)
            return kept
        raise ExprError(f"cannot evaluate {self.seg(node)!r}")  # vetted at parse time; never reached

    def contains(self, container: Any, item: Any) -> bool:
        # `x in big_list` inside a filter runs once per row: hash the list once.
        if isinstance(container, list) and len(container) > 8:
            cached = self._sets.get(id(container))
            if cached is None or cached[0] is not container:
                cached = self._sets[id(container)] = (container, frozenset(_key(v) for v in container))
            return _key(item) in cached[1]
        return _contains(container, item)

    def field(self, base: Any, name: str, node: ast.AST) -> Any:
        if isinstance(base, dict):
            if name not in base:
                raise ExprError(f"{self.seg(node)!r}: no field '{name}'; fields: {', '.join(map(str, base)) or 'none'}")
            return base[name]
        if isinstance(base, list):
            out = []
            for row in base:
                if not isinstance(row, dict):
                    raise ExprError(f"{self.seg(node)!r}: '.{name}' needs rows, but the list holds {_kind(row)}")
                if name not in row:
                    raise ExprError(f"{self.seg(node)!r}: a row has no field '{name}'; "
                                    f"fields: {', '.join(map(str, row))}")
                out.append(row[name])
            return out
        raise ExprError(f"{self.seg(node)!r}: {_kind(base)} has no fields")

    def index(self, base: Any, key: Any, node: ast.AST) -> Any:
        try:
            return base[key]
        except (KeyError, IndexError, TypeError):
            raise ExprError(f"{self.seg(node)!r}: no element {key!r} in {_kind(base)}") from None


def _names_in(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def _row_scope(row: Any, outer: dict[str, Any] | None) -> dict[str, Any]:
    scope = dict(outer or {})
    if isinstance(row, dict):
        scope.update({str(k): v for k, v in row.items()})
    scope[ROW_NAME] = row
    return scope


def evaluate(expr: Expression, values: dict[str, Any]) -> Evaluation:
    """Evaluate over audit values. Never raises: an error is an Evaluation with ``holds=None``."""
    ev = _Evaluator(expr, values)
    try:
        value = ev.ev(expr.tree)
    except ExprError as exc:
        return Evaluation(None, None, ev.trace, str(exc))
    except RecursionError:
        return Evaluation(None, None, ev.trace, "expression too deeply nested")
    if not isinstance(value, bool):
        return Evaluation(None, value, ev.trace, f"the expression gives {_kind(value)} {_short(value)}, "
                                                 "not true or false; compare it with something (== 0, > 0, ...)")
    return Evaluation(value, value, ev.trace)


# -- helpers --------------------------------------------------------------------------------

def _key(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # 2.0 and 2 are the same value, as == says
    return json.dumps(v, sort_keys=True, default=str)


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, v)
    return (1, _key(v))


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
        if numbers:
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, dict):
        return item in container
    if not isinstance(container, list):
        raise TypeError("not a container")
    return any(_eq(v, item) for v in container)


def _need_number(v: Any, where: str) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ExprError(f"{where!r} needs a number, got {_kind(v)}")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return f"a list of {len(v)}"
    if isinstance(v, dict):
        return "a row"
    return type(v).__name__


def _short(v: Any, limit: int = 80) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _trim(v: Any) -> Any:
    if isinstance(v, list) and len(v) > MAX_TRACE_ROWS:
        return v[:MAX_TRACE_ROWS] + [f"... {len(v) - MAX_TRACE_ROWS} more"]
    return v
