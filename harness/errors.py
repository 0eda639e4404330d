"""The harness's exception tree. Every error maps to one exit code of the CLI.

    HarnessError
    ├── InputError            exit 2: a bad experiment file, manifest, option (names file, field, reason)
    ├── EnvironmentProblem    exit 3: a tool missing, a port taken, a target that would not start
    │   ├── ToolMissing
    │   ├── TargetStartFailed
    │   └── ToxiproxyError    (the Toxiproxy API answered badly or not at all)

    RunInterrupted            exit 130: SIGINT / SIGTERM. A BaseException, like KeyboardInterrupt,
    └── ForcedExit            so no `except Exception` on the way can swallow it (and turn it into
                              a failed fault or a crashed service); ForcedExit: a second signal,
                              clean up the fast way (heal, then SIGKILL)

A resilience check that fails is not an exception: it is a verdict (exit 1). Any other
exception that ends a run is a bug of the harness: the run still heals, stops and reports,
with status ``error``, and the CLI exits 4 (``INTERNAL_ERROR_EXIT``).
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

    file: str | None = None
    """Set when the problem is in another file than the error's own (an experiment's manifest)."""

    def render(self, file: str | None) -> str:
        where = self.file or file or ""
        if where and self.line is not None:
            where += f":{self.line}"
        field_part = f"{self.path}: " if self.path else ""
        return f"{where}: {field_part}{self.message}" if where else f"{field_part}{self.message}"


class InputError(HarnessError):
    """Invalid input: the file, the field and the reason are all named."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str, file: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(path="", message=problems)]
        self.problems = problems
        self.file = file
        super().__init__(self.render())

    MAX_SHOWN = 50
    """A file with thousands of problems is reported by its first ones and a count, not a flood."""

    def render(self) -> str:
        lines = [p.render(self.file) for p in self.problems[:self.MAX_SHOWN]]
        hidden = len(self.problems) - self.MAX_SHOWN
        if hidden > 0:
            lines.append(f"... and {hidden} more problem(s) ({len(self.problems)} in all); fix these first")
        return "\n".join(lines)


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


INTERNAL_ERROR_EXIT = 4
"""Exit code of a run ended by an exception the harness did not expect (a bug, not the system's fault)."""


class RunInterrupted(BaseException):
    exit_code = 130

    def __init__(self, signal_name: str = "SIGINT"):
        self.signal_name = signal_name
        super().__init__(f"interrupted by {signal_name}")


class ForcedExit(RunInterrupted):
    """A second signal during a run: skip graceful waits; faults are still healed first."""

    def __init__(self, signal_name: str = "SIGINT"):
        super().__init__(signal_name)
        self.args = (f"interrupted by a second {signal_name}: fast exit",)


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
