"""Checks: pure functions of a finished journal -> passed / failed / unknown, with evidence."""
from __future__ import annotations

from . import builtin, promql  # noqa: F401  (register the built-in checks)
from . import failover, isolation  # noqa: F401  (generic edge-pattern checks)
from . import conformance  # noqa: F401  (registers the response conformance check)
from . import invariant  # noqa: F401  (registers the invariant check over audited effects)
from .evaluate import collect, evaluate
from .registry import CheckResult, Outcome, check, check_types, merge_verdicts

__all__ = ["CheckResult", "Outcome", "check", "check_types", "collect", "evaluate", "merge_verdicts"]
