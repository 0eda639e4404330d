"""The outcome of one run: what the CLI maps to an exit code and the reports render."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .checks.registry import CheckResult, merge_verdicts
from .errors import INTERNAL_ERROR_EXIT

Status = Literal["completed", "aborted", "interrupted", "error"]
"""completed: the method ran to its end. aborted: stopped early on purpose (the steady state
deviated before the faults, or the system crashed on its own). interrupted: SIGINT/SIGTERM, in
any phase. error: something ended the run early; ``error_kind`` says what, ``error`` how."""

ErrorKind = Literal["input", "environment", "internal"]
"""input: a bad experiment or manifest found only once running (exit 2). environment: a tool
missing, a target that would not start (exit 3). internal: a bug of the harness (exit 4)."""

_ERROR_EXIT: dict[str, int] = {"input": 2, "environment": 3, "internal": INTERNAL_ERROR_EXIT}


@dataclass
class RunResult:
    experiment: str
    system: str
    run_dir: Path
    seed: int
    runtime: str
    defect: str | None = None
    status: Status = "completed"
    checks: list[CheckResult] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    error: str | None = None
    error_kind: ErrorKind | None = None
    experiment_path: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    """More sections for result.json and the report (e.g. ``matrix`` from ``harness explore``)."""

    @property
    def deviated(self) -> bool:
        """The steady state did not hold before or after the faults."""
        return any(c.verdict == "failed" for c in self.checks if c.group.startswith("steady_state"))

    @property
    def verdict(self) -> str:
        if self.status in ("interrupted", "error"):
            return "unknown" if not any(c.verdict == "failed" for c in self.checks) else "failed"
        if self.status == "aborted":
            return "failed"
        return merge_verdicts(c.verdict for c in self.checks) if self.checks else "unknown"

    @property
    def exit_code(self) -> int:
        if self.status == "interrupted":
            return 130
        if self.status == "error":
            return _ERROR_EXIT[self.error_kind or "internal"]
        return 0 if self.verdict == "passed" else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "status": self.status,
            "deviated": self.deviated,
            "exit_code": self.exit_code,
            "experiment": self.experiment,
            "experiment_path": self.experiment_path,
            "system": self.system,
            "defect": self.defect,
            "seed": self.seed,
            "runtime": self.runtime,
            "started": self.started,
            "finished": self.finished,
            "duration_s": round(self.finished - self.started, 3) if self.finished else None,
            "error": self.error,
            "error_kind": self.error_kind,
            "counts": self.counts,
            "checks": [c.to_dict() for c in self.checks],
            **self.extra,
        }
