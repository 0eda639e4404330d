"""Checks: pure functions of a finished journal -> passed / failed / unknown, with evidence."""
from __future__ import annotations

from . import builtin, promql  # noqa: F401  (register the built-in checks)
from . import failover, isolation  # noqa: F401  (generic edge-pattern checks)
from . import conformance  # noqa: F401  (registers the response conformance check)
from . import invariant  # noqa: F401  (registers the invariant check over audited effects)
from . import amplification  # noqa: F401  (registers the edge traffic amplification check)
from . import recovery  # noqa: F401  (registers the back-to-baseline-after-a-fault check)
from .evaluate import evaluate
from .registry import CheckResult, Outcome, SeriesQuery, check, check_types, merge_verdicts

__all__ = ["CheckResult", "Outcome", "SeriesQuery", "check", "check_types", "evaluate", "merge_verdicts"]
