"""The harness's exception tree. Every error maps to one exit code of the CLI.

    HarnessError
    ├── InputError            exit 2: a bad experiment file, manifest, option (names file, field, reason)
    ├── EnvironmentProblem    exit 3: a tool missing, a port taken, a target that would not start
    │   ├── ToolMissing
    │   ├── TargetStartFailed
    │   └── ToxiproxyError    (the Toxiproxy API answered badly or not at all)
    └── RunInterrupted        exit 130: SIGINT / SIGTERM; raised after cleanup is scheduled

A resilience check that fails is not an exception: it is a verdict (exit 1).
Third-party errors are translated at the boundary and chained with ``raise ... from``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code = 1


@dataclass
class Problem:
    """One thing wrong with an input file: where it is and what would be valid."""

    path: str  # dotted field path, e.g. "faults[0].attributes.latency"
    message: str
    line: int | None = None

    def render(self, file: str | None) -> str:
        where = file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        field_part = f" {self.path}:" if self.path else ""
        return f"{where}:{field_part} {self.message}"


class InputError(HarnessError):
    """Invalid input: the file, the field and the reason are all named."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str, file: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(path="", message=problems)]
        self.problems = problems
        self.file = file
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(p.render(self.file) for p in self.problems)


class EnvironmentProblem(HarnessError):
    """The machine or the target is not in a state to run: says what to do next."""

    exit_code = 3

    def __init__(self, message: str, hint: str | None = None):
        self.hint = hint
        super().__init__(message if not hint else f"{message}\n  hint: {hint}")


class ToolMissing(EnvironmentProblem):
    pass


class TargetStartFailed(EnvironmentProblem):
    pass


class ToxiproxyError(EnvironmentProblem):
    pass


class RunInterrupted(HarnessError):
    exit_code = 130

    def __init__(self, signal_name: str = "SIGINT"):
        self.signal_name = signal_name
        super().__init__(f"interrupted by {signal_name}")


@dataclass
class Problems:
    """Collects problems so validation reports all of them at once, not the first."""

    file: str | None = None
    items: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str, line: int | None = None) -> None:
        self.items.append(Problem(path=path, message=message, line=line))

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.items, file=self.file)
