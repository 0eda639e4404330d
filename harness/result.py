"""The outcome of one run: what the CLI maps to an exit code and the reports render."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .checks.registry import CheckResult, merge_verdicts

Status = Literal["completed", "aborted", "interrupted", "errored"]
"""completed: the method ran to its end. aborted: stopped early on purpose (steady state before
deviated). interrupted: SIGINT/SIGTERM. errored: an environment problem ended it."""


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
        if self.status in ("interrupted", "errored"):
            return "unknown" if not any(c.verdict == "failed" for c in self.checks) else "failed"
        if self.status == "aborted":
            return "failed"
        return merge_verdicts(c.verdict for c in self.checks) if self.checks else "unknown"

    @property
    def exit_code(self) -> int:
        if self.status == "interrupted":
            return 130
        if self.status == "errored":
            return 3
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
            "counts": self.counts,
            "checks": [c.to_dict() for c in self.checks],
            **self.extra,
        }
