"""A chaos and resilience testing harness: real load (Locust), real faults (Toxiproxy),
resilience properties checked over the recorded history.

Everything the CLI does is a plain call here, so the pytest plugin, the web UI tab and
generated experiments build on the same API::

    exp = load_experiment("experiments/circuit-breaker.yaml")   # parse + validate
    result = run_experiment(exp, RunOptions(defect=None))        # run, check, report
    result.verdict, result.exit_code, result.run_dir
"""
from __future__ import annotations

from typing import Any

__all__ = ["load_experiment", "load_system", "run_experiment", "RunOptions", "read_journal", "write_reports",
           "evaluate", "InputError", "EnvironmentProblem", "RunInterrupted"]

from .errors import EnvironmentProblem, InputError, RunInterrupted


def __getattr__(name: str) -> Any:
    # Lazy: `harness validate` should not pay for the runtime and report imports.
    if name == "load_experiment":
        from .experiment import load_experiment
        return load_experiment
    if name == "load_system":
        from .system import load_system
        return load_system
    if name in ("run_experiment", "RunOptions"):
        from . import runner
        return getattr(runner, name)
    if name == "read_journal":
        from .journal import read_journal
        return read_journal
    if name == "write_reports":
        from .report import write_reports
        return write_reports
    if name == "evaluate":
        from .checks import evaluate
        return evaluate
    raise AttributeError(name)
