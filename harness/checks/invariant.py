"""``invariant``: the system's declared invariants hold over its effects, after it went quiet.

The manifest declares audits (SQL queries, JSON paths) and invariants (expressions over
them); after load stops and every fault is removed the runner waits for quiescence and
records each audit's last read (``invariant_audit``) and the invariants' text
(``invariants_declared``). This check evaluates them from the journal alone, so it stays a
pure function of the history; a violated invariant quotes the values and rows that broke it.

A system that never went quiet within the manifest's ``quiescence.timeout`` fails (it is a
finding), unless ``require_settled: false``; an audit that could not be read makes its
invariants ``unknown``.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

from pydantic import Field

from ..invariants.expr import ExprError, Expression, TraceEntry, evaluate
from ..journal import History, Record
from ..model import Spec
from .registry import Outcome, check, merge_verdicts
from .windows import Windows

if TYPE_CHECKING:
    from ..experiment import ExperimentSpec


class InvariantParams(Spec):
    invariants: list[str] | None = Field(None, min_length=1,
                                         description="names of the manifest's invariants; default: all of them")
    require_settled: bool = Field(True, description="fail when the system never went quiet before the audits")


def _refs(p: InvariantParams, exp: "ExperimentSpec") -> Iterable[tuple[str, str]]:
    declared = exp.target.invariants
    if not declared:
        yield (f"system '{exp.target.name}' declares no invariants (add 'audits:' and 'invariants:' to its manifest)",
               "type")
        return
    for name in p.invariants or []:
        if name not in declared:
            yield (f"system '{exp.target.name}' has no invariant '{name}'; invariants: {', '.join(declared)}",
                   "invariants")


def judge(name: str, definition: dict[str, Any], reads: dict[str, Record]) -> dict[str, Any]:
    """One invariant over the audits' last reads -> {name, expect, verdict, summary, trace, ...}."""
    out: dict[str, Any] = {"name": name, "expect": definition.get("expect", ""),
                           "description": definition.get("description", "")}
    missing = [a for a in definition.get("audits", []) if a not in reads]
    failed = {a: reads[a]["error"] for a in definition.get("audits", []) if a in reads and "error" in reads[a]}
    if missing or failed:
        out["verdict"] = "unknown"
        why = [f"audit '{a}' was not read" for a in missing] + [f"audit '{a}' failed: {e}" for a, e in failed.items()]
        out["summary"] = "; ".join(why)
        return out
    try:
        expr = Expression.parse(out["expect"])
    except ExprError as exc:
        out.update(verdict="unknown", summary=str(exc))
        return out
    result = evaluate(expr, {a: reads[a]["value"] for a in definition.get("audits", [])})
    out["trace"] = [t.to_dict() for t in result.trace]
    if result.holds is None:
        out.update(verdict="unknown", summary=f"cannot evaluate: {result.error}")
    elif result.holds:
        out.update(verdict="passed", summary="holds")
    else:
        out.update(verdict="failed", summary="violated: " + _explain(result.trace))
    return out


def _explain(trace: list[TraceEntry]) -> str:
    """What made it false: the value compared last, and a few of the rows a filter matched."""
    if not trace:
        return "false"
    last = trace[-1]
    text = f"{last.expression} = {_brief(last.value)}"
    rows = next((t for t in reversed(trace) if t.filter and t.value), None)
    if rows is not None:
        sample = ", ".join(json.dumps(r, default=str) for r in rows.value[:3])
        text += f"; {rows.rows} matching row(s), e.g. {sample}"
    return text


def _brief(v: Any) -> str:
    if isinstance(v, list):
        return f"{len(v)} item(s)" + (f" {json.dumps(v[:5], default=str)}" if v and not isinstance(v[0], dict) else "")
    return json.dumps(v, default=str)


@check("invariant", InvariantParams, refs=_refs)
def invariant(history: History, p: InvariantParams, windows: Windows) -> Outcome:
    """Every named invariant holds over the audits read after quiescence."""
    declared_rec = next(reversed(list(history.of_kind("invariants_declared"))), None)
    quiet = next(reversed(list(history.of_kind("quiescence"))), None)
    evidence: dict[str, Any] = {}
    if declared_rec is None:
        errors = [r.get("error") for r in history.of_kind("collect_error")]
        return Outcome("unknown", "no invariant audits were recorded (the run did not complete, or collecting failed"
                       + (f": {'; '.join(map(str, errors))})" if errors else ")"), evidence)
    declared: dict[str, Any] = declared_rec.get("invariants", {})
    names = p.invariants or list(declared)
    reads: dict[str, Record] = {r["audit"]: r for r in history.of_kind("invariant_audit")}
    if quiet is not None:
        evidence["quiescence"] = {k: quiet.get(k) for k in ("settled", "waited_s", "polls", "quiet_s", "timeout_s",
                                                            "still_changing")}
    results = [judge(n, declared.get(n, {"expect": ""}), reads) for n in names]
    evidence["invariants"] = results
    evidence["audits"] = {a: ({"error": r["error"]} if "error" in r else {"rows": len(r["value"])}
                              if isinstance(r.get("value"), list) else {"value": r.get("value")})
                          for a, r in reads.items()}
    verdict = merge_verdicts(r["verdict"] for r in results)
    broken = [r for r in results if r["verdict"] != "passed"]
    settled = quiet is None or quiet.get("settled", False)
    if not settled and p.require_settled:
        still = ", ".join(quiet.get("still_changing") or []) if quiet else ""
        return Outcome("failed", f"the system never went quiet within {quiet.get('timeout_s') if quiet else '?'}s "
                                 f"after load and faults stopped (still changing: {still or '?'}); "
                                 + ("invariants: " + "; ".join(f"{r['name']} {r['verdict']}" for r in results)),
                       evidence)
    if not broken:
        waited = f" (quiet after {quiet['waited_s']:g}s)" if quiet is not None else ""
        return Outcome("passed", f"{len(results)} invariant(s) hold after quiescence{waited}: "
                                 + ", ".join(r["name"] for r in results), evidence)
    text = "; ".join(f"'{r['name']}' {r['summary']}" if r["verdict"] == "failed" else f"'{r['name']}' unknown: "
                     f"{r['summary']}" for r in broken)
    what = "do not hold" if verdict == "failed" else "could not be judged"
    return Outcome(verdict, f"{len(broken)} of {len(results)} invariant(s) {what}: {text}", evidence)
