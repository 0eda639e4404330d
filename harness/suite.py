"""Suites: several experiments (and, with defects, each with each declared defect) into one folder.

    suite folder/
      index.html        one screen: each run's verdict and key figures, links, the score, the time
      junit.xml         a <testsuite> per run (a <testcase> per check; a defect run: "defect is caught")
      result.json       every run's verdict, counts and figures, the score, the mutation table
      <experiment>/     each experiment's own run folder (report.html, result.json, ...)
      <experiment>-<defect>/

**Resilience score** (0-100) = 100 x passed / declared, over every check and every steady-state
condition (counted once before and once after the faults) of every experiment run on the
sound system. A check that did not run (the run was aborted, errored or interrupted) counts
as not passed, and so does ``unknown``. With defect runs, **defects caught** is reported beside
it: a defect is caught by an experiment when a check failed with the defect that passed on the
sound system (when the sound run is in the suite; otherwise any failed check counts). A defect
that no experiment catches *survived*.

Exit code: the most serious of the runs' (130 interrupted > 3 environment > 1 failed), with a
defect run counting 1 when its defect survived and 0 when it was caught.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .experiment import ExperimentSpec, load_experiment
from .result import RunResult
from .runner import RunOptions, run_experiment
from .events import RunEvents


@dataclass
class Job:
    exp: ExperimentSpec
    defect: str | None = None

    @property
    def folder(self) -> str:
        return self.exp.name + (f"-{self.defect}" if self.defect else "")


@dataclass
class SuiteResult:
    folder: Path
    jobs: list[Job]
    results: dict[str, RunResult] = field(default_factory=dict)
    """Run folder name -> result, for the jobs that ran (an interrupt stops the rest)."""
    started: float = 0.0
    finished: float = 0.0
    comparison: dict[str, Any] | None = None
    fail_on_regression: bool = False

    def sound(self) -> list[tuple[Job, RunResult]]:
        return [(j, self.results[j.folder]) for j in self.jobs if j.defect is None and j.folder in self.results]

    def score(self) -> dict[str, Any]:
        passed = declared = 0
        for job, r in self.sound():
            count = len(job.exp.checks) + 2 * len(job.exp.steady_state.conditions)
            declared += max(count, len(r.checks), 1)
            passed += sum(c.verdict == "passed" for c in r.checks)
        return {"score": round(100.0 * passed / declared, 1) if declared else None, "passed": passed, "declared": declared,
                "formula": "100 x passed / declared checks and steady-state conditions, sound runs only"}

    def mutations(self) -> list[dict[str, Any]]:
        """One row per defect run: which checks caught it (failed there, passed on the sound system)."""
        rows = []
        for job in self.jobs:
            if job.defect is None or job.folder not in self.results:
                continue
            r = self.results[job.folder]
            sound = self.results.get(job.exp.name)
            passed_sound = {c.name for c in sound.checks if c.verdict == "passed"} if sound else None
            failed = [c for c in r.checks if c.verdict == "failed"]
            caught = [c for c in failed if passed_sound is None or c.name in passed_sound]
            status: str
            if r.status in ("errored", "interrupted"):
                status = r.status
            elif sound is not None and sound.verdict != "passed":
                status = "inconclusive" if not caught else "caught"
            else:
                status = "caught" if caught else "survived"
            rows.append({"system": r.system, "defect": job.defect, "experiment": job.exp.name, "run": job.folder,
                         "status": status, "verdict": r.verdict, "sound_verdict": sound.verdict if sound else None,
                         "caught_by": [{"check": c.name, "type": c.type, "evidence": c.summary} for c in caught]})
        return rows

    def defects(self) -> list[dict[str, Any]]:
        """Per (system, defect): caught if any experiment caught it."""
        by: dict[tuple[str, str], dict[str, Any]] = {}
        for m in self.mutations():
            entry = by.setdefault((m["system"], m["defect"]), {"system": m["system"], "defect": m["defect"],
                                                              "caught_by": [], "experiments": []})
            entry["experiments"].append(m["experiment"])
            if m["status"] == "caught":
                entry["caught_by"] += [f"{m['experiment']}: {c['check']}" for c in m["caught_by"]]
        for entry in by.values():
            entry["survived"] = not entry["caught_by"]
        return list(by.values())

    def run_exit_code(self, job: Job) -> int:
        r = self.results[job.folder]
        if r.status in ("interrupted", "errored") or job.defect is None:
            return r.exit_code
        m = next(m for m in self.mutations() if m["run"] == job.folder)
        return 0 if m["status"] == "caught" else 1

    @property
    def exit_code(self) -> int:
        codes = [self.run_exit_code(j) for j in self.jobs if j.folder in self.results]
        if len(self.results) < len(self.jobs):
            codes.append(130)  # the rest never ran: an interrupt stopped the suite
        if self.comparison and self.fail_on_regression and self.comparison.get("regressions"):
            codes.append(1)
        for worst in (130, 3, 2, 1):
            if worst in codes:
                return worst
        return 0

    @property
    def verdict(self) -> str:
        return {0: "passed", 1: "failed", 130: "interrupted", 3: "errored"}.get(self.exit_code, "failed")


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a directory stands for its ``*.yaml`` and ``*.yml`` files, sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                raise InputError(f"directory '{p}' holds no experiment files (*.yaml)")
            out += found
        else:
            out.append(p)
    return out


def plan(paths: list[Path], *, defects: bool) -> list[Job]:
    """Every experiment loaded and validated before anything runs (bad input: exit 2, nothing started)."""
    exps = [load_experiment(p) for p in expand(paths)]
    names = [e.name for e in exps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"two experiment files share the name {', '.join(repr(d) for d in dupes)}: each run folder "
                         "of a suite is named after its experiment, so names must differ")
    jobs: list[Job] = []
    for exp in exps:
        jobs.append(Job(exp))
        if defects:
            jobs += [Job(exp, d) for d in exp.target.defects]
    return jobs


def default_suite_dir() -> Path:
    base = Path.cwd() / "reports" / f"{time.strftime('%Y%m%d-%H%M%S')}-suite"  # like a run's: under the current directory
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_suite(jobs: list[Job], *, out: Path | None = None, seed: int | None = None, runtime: str = "local",
              events: RunEvents | None = None, baseline: Path | None = None, fail_on_regression: bool = False,
              tolerance: Any = None) -> SuiteResult:
    from .report.suite_report import write_suite_reports

    folder = (out or default_suite_dir()).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    suite = SuiteResult(folder, jobs, started=time.time(), fail_on_regression=fail_on_regression)
    ev = events or RunEvents()
    for i, job in enumerate(jobs, 1):
        ev.notice.fire(message=f"suite {i}/{len(jobs)}: {job.folder}")
        result = run_experiment(job.exp, RunOptions(defect=job.defect, seed=seed, out=folder / job.folder,
                                                    runtime=runtime, events=ev))
        suite.results[job.folder] = result
        if result.status == "interrupted":
            break
    suite.finished = time.time()
    if baseline is not None:
        from .compare import compare_folders

        suite.comparison = compare_folders(baseline, folder, tolerance)
    write_suite_reports(suite)
    return suite
