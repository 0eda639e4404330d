"""The runner's (and explore's) step: which invariants a run needs, and recording their audits.

The records carry the invariants' own text, so the ``invariant`` check judges from the
journal alone and a report re-rendered later shows the same verdict.
"""
from __future__ import annotations

import ast
import time
from typing import TYPE_CHECKING, Any, Iterable

from ..journal import Record
from .expr import Expression
from .quiescence import audit_after_quiescence

if TYPE_CHECKING:
    from ..events import RunEvents
    from ..experiment import ExperimentSpec
    from ..journal import JournalWriter
    from ..runtime.base import Deployment
    from ..system import SystemSpec

CHECK_TYPE = "invariant"


def audits_of(system: "SystemSpec", invariant: str) -> list[str]:
    """The audits an invariant's expression reads (names inside filters count: they may be audits)."""
    tree = Expression.parse(system.invariants[invariant].expect).tree
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return [a for a in system.audits if a in names]


def wanted_invariants(exp: "ExperimentSpec") -> list[str]:
    """Every invariant an ``invariant`` check of the experiment judges, in manifest order."""
    wanted: set[str] = set()
    for spec in exp.checks:
        if spec.type == CHECK_TYPE and spec.parsed_params is not None:
            names = spec.parsed_params.invariants
            wanted |= set(exp.target.invariants if names is None else names)
    return [n for n in exp.target.invariants if n in wanted]


def collect_invariants(system: "SystemSpec", invariants: Iterable[str], service_url: Any) -> list[Record]:
    """Wait for quiescence and read every audit the invariants need. Never raises."""
    names = list(invariants)
    if not names:
        return []
    declared: Record = {"kind": "invariants_declared", "t": time.time(),
                        "invariants": {n: {"expect": system.invariants[n].expect,
                                           "description": system.invariants[n].description,
                                           "audits": audits_of(system, n)} for n in names}}
    audits = sorted({a for n in names for a in audits_of(system, n)}, key=list(system.audits).index)
    try:
        return [declared, *audit_after_quiescence(system.audits, audits, system.quiescence, service_url)]
    except Exception as exc:  # never in the way of stopping the runtime; the check says unknown
        return [declared, {"kind": "collect_error", "t": time.time(), "check": CHECK_TYPE,
                           "error": f"{type(exc).__name__}: {exc}"}]


def record_invariants(exp: "ExperimentSpec", deployment: "Deployment", journal: "JournalWriter",
                      events: "RunEvents") -> None:
    """The runner's step after load and faults stopped: quiescence, then the audits, into the journal."""
    names = wanted_invariants(exp)
    if not names:
        return
    events.notice.fire(message=f"waiting for the system to go quiet (at most {exp.target.quiescence.timeout:g}s), "
                               f"then auditing {len(names)} invariant(s)")
    for rec in collect_invariants(exp.target, names, deployment.service_url):
        journal.write_record(rec)
