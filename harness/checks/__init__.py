"""Checks: pure functions of a finished journal -> passed / failed / unknown, with evidence."""
from __future__ import annotations

from . import builtin  # noqa: F401  (registers the built-in checks)
from . import conformance  # noqa: F401  (registers the response conformance check)
from .evaluate import evaluate
from .registry import CheckResult, Outcome, check, check_types, merge_verdicts

__all__ = ["CheckResult", "Outcome", "check", "check_types", "evaluate", "merge_verdicts"]
