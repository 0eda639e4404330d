"""``harness report RUN_DIR``: every report of a run, re-rendered from what the run folder stores.

The checks are evaluated again over the stored history (``journal.jsonl`` and ``requests/``),
with the experiment file the run recorded (``run_started.experiment_path``). A run that was
interrupted (no ``run_finished`` record: the harness was killed) is rendered as
``interrupted`` from whatever it recorded. When the experiment file is gone, the checks of an
earlier ``result.json`` are kept, and failing that the report says there were none.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..checks import evaluate
from ..checks.registry import CheckResult
from ..errors import InputError
from ..journal import History, read_journal
from ..result import RunResult, Status
from . import write_reports

JOURNAL = "journal.jsonl"


def load_run(run_dir: str | Path) -> tuple[Path, History]:
    """The run folder and its history; InputError (exit 2) when it is not a run folder."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise InputError(f"'{folder}' is not a directory: give the run folder that holds {JOURNAL}")
    if not (folder / JOURNAL).is_file():
        raise InputError(f"'{folder}' has no {JOURNAL}: not a run folder (suite folders hold one per experiment)")
    return folder.resolve(), read_journal(folder / JOURNAL)


def rebuild_result(folder: Path, history: History) -> RunResult:
    """The run's result as the runner would have built it, checks evaluated anew."""
    run = history.run
    finished = history.first("run_finished")
    status: Status = finished.get("status", "interrupted") if finished else "interrupted"
    error_kind = (finished or {}).get("error_kind")
    if status == "errored":  # type: ignore[comparison-overlap]  # journals from before status "error"
        status, error_kind = "error", "environment"
    last_t = max((r.get("t") or 0.0 for r in history.records), default=0.0)
    result = RunResult(experiment=str(run.get("experiment", folder.name)), system=str(run.get("system", "")),
                       run_dir=folder, seed=int(run.get("seed") or 0), runtime=str(run.get("runtime", "local")),
                       defect=run.get("defect"), status=status, started=float(run.get("t") or 0.0),
                       finished=float(finished["t"]) if finished else float(last_t),
                       error=(finished or {}).get("error") or (None if finished else "the run was cut short (no run_finished record)"),
                       experiment_path=str(run.get("experiment_path") or ""), error_kind=error_kind)
    if "explore" in run:  # a `harness explore` run: its cells judged again, and its impact matrix
        from ..explore.analysis import reanalyse

        analysis = reanalyse(history)
        result.checks, result.extra["matrix"] = analysis.checks, analysis.matrix
    else:
        result.checks = _checks(folder, history, result)
    result.counts = {"requests": len(history.requests), "failures": len(history.requests) - history.requests.succeeded,
                     "events": len(history.events)}
    return result


def _checks(folder: Path, history: History, result: RunResult) -> list[CheckResult]:
    from ..experiment import load_experiment

    path = Path(result.experiment_path) if result.experiment_path else None
    if path is not None and path.is_file():
        exp = load_experiment(path)
        if result.status in ("completed", "aborted") or history.requests:
            return evaluate(exp, history)
        return []
    return [_check_from(c) for c in _previous(folder).get("checks", [])]


def _previous(folder: Path) -> dict[str, Any]:
    try:
        doc = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _check_from(c: dict[str, Any]) -> CheckResult:
    return CheckResult(name=str(c.get("name", "")), type=str(c.get("type", "")), verdict=c.get("verdict", "unknown"),
                       summary=str(c.get("summary", "")), evidence=c.get("evidence") or {},
                       group=str(c.get("group", "checks")), description=str(c.get("description", "")))


def rerender(run_dir: str | Path) -> RunResult:
    """Re-evaluate and re-write ``result.json``, ``junit.xml`` and ``report.html`` of a run folder."""
    folder, history = load_run(run_dir)
    result = rebuild_result(folder, history)
    write_reports(folder, result, history)
    return result
