"""Checks about effects and answers, judged from the client's record and the participants' ledgers.

A system lists this file under ``plugins:``. None of these checks believes the component under
test: they read what the client saw (each request's status and, with ``load.record_bodies``, its
body) and what the participants recorded (their ``audit:`` answer, fetched when the run is
over, after the system went quiet: see ledger.py).

    answer_problems       the client's own oracle (the locustfile) found no wrong answer:
                          requests that failed with a reason matching ``error_regex``
    ledger_calls          how many calls reached a participant in a window: absolute, per
                          client request, or per path (when each client request has its own
                          path, the tries one request cost): amplification on a faulted edge
                          (retry storms, a breaker or a failover that lets load through), or
                          traffic that must come back after a recovery
    acknowledged_effects  every write the client got acknowledged took effect exactly once at
                          the participant, with the acknowledged values; no effect happened
                          twice; no effect appeared that no client attempt can explain
    event_gap             the time between two transitions of a mechanism (a breaker's first
                          open and its first half-open after a fault starts) stays within bounds:
                          a timer restarted by stale outcomes, or a reset timeout in the wrong
                          unit, shows as a gap other than the configured one
    event_count           how many transitions of a kind happened in a window: one the state
                          machine never makes (an open breaker opening again) is a defect that
                          announces itself, whatever the timing
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from harness.checks import Outcome, check
from harness.checks.pointer import resolve_pointer, valid_pointer
from harness.checks.selection import RequestFilter, select_requests
from harness.checks.selection import event_matches
from harness.checks.windows import AnchorSpec, Windows, WindowSpec
from harness.durations import Duration
from harness.journal import History, Record
from harness.model import Spec

EXAMPLES = 10  # offending items quoted in evidence; counts are always complete


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"'{value}' is not a valid regular expression: {exc}") from None
    return value


def _audit(history: History, service: str) -> tuple[dict[str, Any] | None, str | None]:
    """(audit, why it cannot be used)."""
    audits = history.audits()
    if service not in audits:
        return None, (f"no audit of service '{service}' in this run (audits are taken when a run completes; "
                      f"the manifest must give the service an 'audit:' path)")
    state = audits[service]
    if not isinstance(state, dict):
        return None, f"the audit of '{service}' is not a JSON object"
    if "audit_error" in state:
        return None, f"the audit of '{service}' failed: {state['audit_error']}"
    return state, None


def _at(t: float, origin: float | None) -> float:
    return round(t - (origin or 0.0), 3)


# --- answer_problems -----------------------------------------------------------------------


class AnswerProblemsParams(Spec):
    window: WindowSpec | None = None
    requests: RequestFilter | None = None
    # The recorded reason carries the exception's type first ("CatchResponseError: wrong answer: ..."),
    # as the load process records every failure; a bare "^wrong answer" never matched a real run.
    error_regex: str = Field(r"^(\w+: )?wrong answer", description="failure reasons that mean the answer itself was wrong")
    max: int = Field(0, ge=0, description="most such answers tolerated")
    min_requests: int = Field(10, ge=1, description="fewer requests in the window -> unknown")

    _check_regex = field_validator("error_regex")(_regex)


@check("answer_problems", AnswerProblemsParams)
def answer_problems(history: History, p: AnswerProblemsParams, windows: Windows) -> Outcome:
    """The client's oracle (the locustfile judging each answer) found at most ``max`` wrong answers."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "filter": p.requests.describe() if p.requests else
                                "all requests", "error_regex": p.error_regex, "max": p.max}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    reqs = select_requests(history.requests, w, p.requests)
    pattern = re.compile(p.error_regex)
    # The error texts are a table of their own: match each distinct text once, not each request.
    codes = [i for i, text in enumerate(reqs.errors) if pattern.search(text)]
    wrong = reqs.take(np.flatnonzero(np.isin(reqs.error, codes)))
    kinds = Counter(str(r["error"])[:120] for r in wrong)
    evidence.update(requests=len(reqs), wrong=len(wrong), kinds=dict(kinds.most_common(EXAMPLES)),
                    examples=[{"at_s": _at(r["t"], windows.origin), "name": r.get("name"), "status": r.get("status"),
                               "error": r.get("error")} for r in wrong.head(EXAMPLES)])
    if len(wrong) > p.max:
        first = wrong.row(0)
        return Outcome("failed", f"{len(wrong)} of {len(reqs)} answers in '{w.label}' were wrong (max {p.max}); "
                                 f"first at {_at(first['t'], windows.origin):.1f}s: {first['error']}", evidence)
    if len(reqs) < p.min_requests:
        return Outcome("unknown", f"only {len(reqs)} requests in window '{w.label}' (need {p.min_requests})", evidence)
    return Outcome("passed", f"{len(wrong)} wrong answers among {len(reqs)} in '{w.label}' (max {p.max})", evidence)


# --- ledger_calls --------------------------------------------------------------------------


class PerRequestBound(Spec):
    requests: RequestFilter = Field(description="the client requests the calls are counted against")
    max: float | None = Field(None, gt=0.0, description="most calls reaching the participant per client request")
    min: float | None = Field(None, ge=0.0, description="fewest calls per client request (a share that must reach it)")
    min_requests: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _some_bound(self) -> "PerRequestBound":
        if self.max is None and self.min is None:
            raise ValueError("per_request needs max, min or both")
        return self


class LedgerCallsParams(Spec):
    service: str = Field(description="the participant whose ledger (audit 'calls') is counted")
    path_regex: str = Field(".*", description="which calls count, by path (re.search)")
    method: str | None = None
    window: WindowSpec
    max: int | None = Field(None, ge=0, description="most calls in the window")
    min: int | None = Field(None, ge=0, description="fewest calls in the window (traffic that must reach it)")
    per_request: PerRequestBound | None = None
    max_per_path: int | None = Field(None, ge=1, description="most calls any one path received in the window: "
                                     "the tries of one client request, when each request has its own path")

    _check_regex = field_validator("path_regex")(_regex)

    @model_validator(mode="after")
    def _some_bound(self) -> "LedgerCallsParams":
        if self.max is None and self.min is None and self.per_request is None and self.max_per_path is None:
            raise ValueError("give a bound: max, min, per_request or max_per_path")
        return self


@check("ledger_calls", LedgerCallsParams)
def ledger_calls(history: History, p: LedgerCallsParams, windows: Windows) -> Outcome:
    """Calls that reached a participant in a window, by its own ledger, stay within bounds."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "service": p.service, "path_regex": p.path_regex}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    audit, problem = _audit(history, p.service)
    if audit is None:
        return Outcome("unknown", problem or "no audit", evidence)
    if audit.get("calls_dropped"):
        evidence["calls_dropped"] = audit["calls_dropped"]
    pattern = re.compile(p.path_regex)
    assert w.start is not None and w.end is not None
    calls = [c for c in audit.get("calls", []) if w.start <= float(c[0]) < w.end and pattern.search(str(c[2]))
             and (p.method is None or str(c[1]).upper() == p.method.upper())]
    per_second = Counter(int(float(c[0]) - w.start) for c in calls)
    evidence.update(calls=len(calls), window_s=round(w.end - w.start, 3),
                    per_second=[per_second.get(s, 0) for s in range(int(w.end - w.start) + 1)],
                    first_calls=[{"at_s": _at(float(c[0]), windows.origin), "method": c[1], "path": c[2]}
                                 for c in calls[:EXAMPLES]])
    where = f"{p.service} in '{w.label}'"
    violations = []
    if p.max is not None and len(calls) > p.max:
        violations.append(f"{len(calls)} calls reached {where} (max {p.max})")
    if p.min is not None and len(calls) < p.min:
        violations.append(f"only {len(calls)} calls reached {where} (min {p.min})")
    if p.max_per_path is not None and calls:
        by_path = Counter(str(c[2]) for c in calls)
        busiest, most = by_path.most_common(1)[0]
        over = sum(1 for n in by_path.values() if n > p.max_per_path)
        evidence.update(paths=len(by_path), most_calls_on_one_path=most, busiest_path=busiest)
        if over:
            violations.append(f"{over} of {len(by_path)} paths got more than {p.max_per_path} calls at {where} "
                              f"(most: {most} on {busiest})")
    ratio_note = ""
    if p.per_request is not None:
        reqs = select_requests(history.requests, w, p.per_request.requests)
        evidence["client_requests"] = len(reqs)
        if len(reqs) < p.per_request.min_requests:
            if not violations:
                return Outcome("unknown", f"only {len(reqs)} client requests in '{w.label}' "
                                          f"(need {p.per_request.min_requests})", evidence)
        else:
            ratio = len(calls) / len(reqs)
            pr = p.per_request
            evidence["calls_per_request"] = round(ratio, 3)
            limits = ", ".join(f"{k} {v:g}" for k, v in (("min", pr.min), ("max", pr.max)) if v is not None)
            ratio_note = f", {ratio:.2f} per client request ({limits})"
            if (pr.max is not None and ratio > pr.max) or (pr.min is not None and ratio < pr.min):
                violations.append(f"{len(calls)} calls reached {where} for {len(reqs)} client requests: "
                                  f"{ratio:.2f} per request ({limits})")
    if violations:
        return Outcome("failed", "; ".join(violations), evidence)
    bounds = ", ".join(f"{k} {v}" for k, v in (("min", p.min), ("max", p.max)) if v is not None)
    return Outcome("passed", f"{len(calls)} calls reached {where}{ratio_note}" + (f" ({bounds})" if bounds else ""),
                   evidence)


# --- acknowledged_effects ------------------------------------------------------------------


def _pointers(value: Any) -> Any:
    for ptr in ([value] if isinstance(value, str) else list(value.values())):
        if not valid_pointer(ptr):
            raise ValueError(f"'{ptr}' is not a JSON pointer (e.g. '/order_id')")
    return value


class AckSpec(Spec):
    requests: RequestFilter = Field(description="the client's write requests")
    statuses: list[int] = Field(default_factory=lambda: [200, 201], description="answers that acknowledge the write")
    id: str = Field(description="JSON pointer to the write's id in the acknowledging answer")
    fields: dict[str, str] = Field(default_factory=dict, description="name -> JSON pointer of a value the "
                                   "effect must carry too")
    where: dict[str, Any] = Field(default_factory=dict, description="JSON pointer -> value: only answers that "
                                  "have these count as acknowledgements")

    _check_id = field_validator("id", "fields", "where")(_pointers)


class LedgerSpec(Spec):
    audit: str | None = Field(None, description="a manifest audit (``audits:``) listing the effects, read after "
                              "quiescence; the experiment needs an ``invariant`` check for it to be read")
    service: str | None = Field(None, description="or: the participant whose ``audit:`` path lists the effects")
    list: str = Field("effects", description="with service: key of the audit's list of effects")
    id: str = Field("id", description="key of the write's id in an effect")
    fields: dict[str, str] = Field(default_factory=dict, description="name -> key, compared with the ack's fields")

    @model_validator(mode="after")
    def _one_source(self) -> "LedgerSpec":
        if (self.audit is None) == (self.service is None):
            raise ValueError("give exactly one of 'audit' (a manifest audit, read after quiescence) or 'service'")
        return self

    @property
    def label(self) -> str:
        return f"audit '{self.audit}'" if self.audit else f"{self.service}.{self.list}"

    def effects(self, history: History) -> tuple[list[Any] | None, str | None, dict[str, Any]]:
        """(the effects, why they cannot be judged, what the evidence should say about quiescence)."""
        if self.service is not None:
            audit, problem = _audit(history, self.service)
            if audit is None:
                return None, problem, {}
            raw = audit.get(self.list)
            if not isinstance(raw, list):
                return None, f"the audit of '{self.service}' has no list '{self.list}'", {}
            return raw, None, {}
        reads = [r for r in history.of_kind("invariant_audit") if r.get("audit") == self.audit]
        quiet = history.first("quiescence") or {}
        note = {"quiescence": {k: quiet.get(k) for k in ("settled", "waited_s")}} if quiet else {}
        if not reads:
            return None, (f"audit '{self.audit}' was not read in this run (it is read after quiescence when an "
                          "'invariant' check of the experiment needs it)"), note
        last = reads[-1]
        if "error" in last:
            return None, f"audit '{self.audit}' could not be read: {last['error']}", note
        if not isinstance(last.get("value"), list):
            return None, f"audit '{self.audit}' is not a list of effects", note
        return last["value"], None, note


class AckEffectsParams(Spec):
    acks: AckSpec
    ledger: LedgerSpec
    unexplained_slack: int = Field(0, ge=0, description="effects with no acknowledgement allowed beyond the "
                                   "client's unacknowledged attempts (e.g. requests cut when load stopped)")

    @model_validator(mode="after")
    def _same_fields(self) -> "AckEffectsParams":
        if set(self.acks.fields) != set(self.ledger.fields):
            raise ValueError(f"acks.fields {sorted(self.acks.fields)} and ledger.fields {sorted(self.ledger.fields)} "
                             "must name the same values")
        return self


def _same(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) < 1e-6
    except (TypeError, ValueError):
        return str(a) == str(b)


@check("acknowledged_effects", AckEffectsParams)
def acknowledged_effects(history: History, p: AckEffectsParams, windows: Windows) -> Outcome:
    """Every acknowledged write took effect exactly once, as acknowledged; no effect is doubled or unexplained."""
    evidence: dict[str, Any] = {"acks": p.acks.requests.describe(), "ledger": p.ledger.label}
    raw, problem, note = p.ledger.effects(history)
    evidence.update(note)
    if raw is None:
        return Outcome("unknown", problem or "no effects", evidence)
    effects: dict[str, list[dict[str, Any]]] = {}
    for e in raw:
        if isinstance(e, dict) and p.ledger.id in e:
            effects.setdefault(str(e[p.ledger.id]), []).append(e)

    attempts = p.acks.requests.select(history.requests)
    acks: dict[str, tuple[Record, dict[str, Any]]] = {}
    unreadable = not_acks = 0
    for r in attempts:  # each answer's body is needed: one request at a time
        body = _ack_body(r, p.acks)
        if body is None:
            not_acks += 1
            continue
        if body is _UNREADABLE:
            unreadable += 1
            continue
        found, ident = resolve_pointer(body, p.acks.id)
        if not found or ident is None:
            unreadable += 1
            continue
        acks[str(ident)] = (r, body)
    evidence.update(attempts=len(attempts), acknowledged=len(acks), not_acknowledged=not_acks,
                    unreadable_acks=unreadable, effects=sum(len(v) for v in effects.values()),
                    distinct_effects=len(effects))

    origin = windows.origin
    lost = [i for i in acks if i not in effects]
    doubled = {i: len(v) for i, v in effects.items() if len(v) > 1}
    mismatched = []
    for ident, (r, body) in acks.items():
        if ident not in effects:
            continue
        for name, ptr in p.acks.fields.items():
            _, acked = resolve_pointer(body, ptr)
            applied = [e.get(p.ledger.fields[name]) for e in effects[ident]]
            if any(not _same(acked, v) for v in applied):
                mismatched.append({"id": ident, "field": name, "acknowledged": acked, "applied": applied,
                                   "at_s": _at(r["t"], origin)})
    unexplained = [i for i in effects if i not in acks]
    where = p.ledger.service or f"audit '{p.ledger.audit}'"
    allowed = not_acks + unreadable + p.unexplained_slack
    violations = []
    if lost:
        evidence["lost"] = [{"id": i, "at_s": _at(acks[i][0]["t"], origin)} for i in lost[:EXAMPLES]]
        violations.append(f"{len(lost)} of {len(acks)} acknowledged writes have no effect at {where} "
                          f"(first {lost[0]})")
    if doubled:
        evidence["doubled"] = [{"id": i, "times": n} for i, n in list(doubled.items())[:EXAMPLES]]
        extra = sum(n - 1 for n in doubled.values())
        violations.append(f"{len(doubled)} writes took effect more than once at {where} ({extra} extra; "
                          f"first {next(iter(doubled))})")
    if mismatched:
        evidence["mismatched"] = mismatched[:EXAMPLES]
        m = mismatched[0]
        violations.append(f"{len(mismatched)} effects differ from what was acknowledged (first {m['id']}: "
                          f"{m['field']} acknowledged {m['acknowledged']!r}, applied {m['applied']!r})")
    if len(unexplained) > allowed:
        evidence["unexplained"] = unexplained[:EXAMPLES]
        violations.append(f"{len(unexplained)} effects at {where} match no acknowledged write, but only "
                          f"{not_acks + unreadable} attempts went unacknowledged (slack {p.unexplained_slack})")
    evidence["unexplained_count"] = len(unexplained)
    if violations:
        return Outcome("failed", "; ".join(violations), evidence)
    if unreadable:
        return Outcome("unknown", f"{unreadable} acknowledgements could not be read (no body recorded, cut, or "
                                  "no id): raise load.record_bodies", evidence)
    if not acks:
        return Outcome("unknown", f"no acknowledged write among {len(attempts)} attempts: nothing to hold the "
                                  "ledger to", evidence)
    return Outcome("passed", f"all {len(acks)} acknowledged writes took effect once at {where}; "
                             f"{len(unexplained)} effects of {not_acks} unacknowledged attempts", evidence)


_UNREADABLE: Any = object()


def _ack_body(r: Record, ack: AckSpec) -> Any:
    """The acknowledging answer's JSON body; None if the answer is no acknowledgement; _UNREADABLE."""
    if r.get("status") not in ack.statuses:
        return None
    if "body" not in r or r.get("body_truncated"):
        return _UNREADABLE
    try:
        body = json.loads(r["body"])
    except ValueError:
        return _UNREADABLE
    for ptr, value in ack.where.items():
        found, got = resolve_pointer(body, ptr)
        if not found or got != value:
            return None
    return body


# --- event_gap -----------------------------------------------------------------------------


class EventGapParams(Spec):
    first: dict[str, Any] = Field(description="fields of the event the gap starts at, e.g. {type: breaker_state, state: open}")
    then: dict[str, Any] = Field(description="fields of the event it ends at, the first one after 'first'")
    after: AnchorSpec = Field(description="look for 'first' from this moment on: a fault's actual start or end")
    service: str | None = None
    min: Duration | None = Field(None, description="shortest acceptable gap")
    max: Duration | None = Field(None, description="longest acceptable gap")

    @model_validator(mode="after")
    def _some_bound(self) -> "EventGapParams":
        if self.min is None and self.max is None:
            raise ValueError("give a bound: min, max or both")
        return self


@check("event_gap", EventGapParams)
def event_gap(history: History, p: EventGapParams, windows: Windows) -> Outcome:
    """The first ``then`` event after the first ``first`` event (after the anchor) comes within [min, max]."""
    anchor = windows.anchor(p.after)
    evidence: dict[str, Any] = {"first": p.first, "then": p.then, "anchor": f"{p.after.fault} {p.after.edge}",
                                "min_s": p.min, "max_s": p.max}
    if anchor is None:
        return Outcome("unknown", f"fault '{p.after.fault}' never {'started' if p.after.edge == 'start' else 'ended'}",
                       evidence)
    events = [e for e in history.events if e["t"] >= anchor and (p.service is None or e.get("service") == p.service)]
    start = next((e for e in events if event_matches(e, p.first)), None)
    if start is None:
        return Outcome("unknown", f"no {p.first} event after {p.after.fault} {p.after.edge}: the gap cannot be "
                                  "measured (a check of that event says whether it should have come)", evidence)
    end = next((e for e in events if e["t"] >= start["t"] and e is not start and event_matches(e, p.then)), None)
    evidence["first_at_s"] = _at(start["t"], windows.origin)
    if end is None:
        return Outcome("failed", f"no {p.then} event after the {p.first} event at "
                                 f"{evidence['first_at_s']:.2f}s", evidence)
    gap = end["t"] - start["t"]
    evidence.update(then_at_s=_at(end["t"], windows.origin), gap_s=round(gap, 3),
                    between=[{"at_s": _at(e["t"], windows.origin), **{k: v for k, v in e.items() if k not in ("kind", "t")}}
                             for e in events if start["t"] <= e["t"] <= end["t"]][:EXAMPLES])
    bounds = " ".join(f"{k} {v:g}s" for k, v in (("min", p.min), ("max", p.max)) if v is not None)
    ok = (p.min is None or gap >= p.min) and (p.max is None or gap <= p.max)
    return Outcome("passed" if ok else "failed", f"{p.then} came {gap:.3f}s after {p.first} ({bounds})", evidence)


# --- event_count ---------------------------------------------------------------------------


class EventCountParams(Spec):
    event: dict[str, Any] = Field(description="fields the events must have, e.g. {type: breaker_state, previous: open, state: open}")
    service: str | None = None
    window: WindowSpec | None = None
    max: int | None = Field(None, ge=0)
    min: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> "EventCountParams":
        if self.min is None and self.max is None:
            raise ValueError("give a bound: min, max or both")
        return self


@check("event_count", EventCountParams)
def event_count(history: History, p: EventCountParams, windows: Windows) -> Outcome:
    """The events matching ``event`` in the window number between ``min`` and ``max``."""
    w = windows.resolve(p.window)
    evidence: dict[str, Any] = {**w.describe(windows.origin), "event": p.event, "min": p.min, "max": p.max}
    if not w.known:
        return Outcome("unknown", f"window '{w.label}' did not happen in this run", evidence)
    found = [e for e in history.events if w.contains(e["t"]) and event_matches(e, p.event)
             and (p.service is None or e.get("service") == p.service)]
    evidence.update(count=len(found), examples=[{"at_s": _at(e["t"], windows.origin),
                                                 **{k: v for k, v in e.items() if k not in ("kind", "t")}}
                                                for e in found[:EXAMPLES]])
    bounds = ", ".join(f"{k} {v}" for k, v in (("min", p.min), ("max", p.max)) if v is not None)
    ok = (p.min is None or len(found) >= p.min) and (p.max is None or len(found) <= p.max)
    summary = f"{len(found)} {p.event} events in '{w.label}' ({bounds})"
    if not ok and found:
        summary += f"; first at {evidence['examples'][0]['at_s']:.2f}s"
    return Outcome("passed" if ok else "failed", summary, evidence)
