"""Reports for a run whose harness died (SIGKILL, the OOM killer, a power cut).

A killed harness writes nothing more; its run folder holds a journal that stops mid-story.
When a later sweep (``runstate.sweep_dead_runs``: the start of every run, ``harness clean``)
has stopped what that run left running, it completes the folder here: the journal gets a
``run_finished`` record, and ``result.json``, ``junit.xml`` and ``report.html`` are written
from it with status ``interrupted`` and an error saying what happened. Checks are not
evaluated: a story cut at a random point proves nothing about the system.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .journal import read_journal
from .report import write_reports
from .result import RunResult

KILLED = ("the harness process died before the run finished (SIGKILL, out of memory, a crash); "
          "a later sweep stopped what it had left running and wrote these reports")


def complete_dead_run(run_dir: Path) -> bool:
    """Finish a dead run's folder: its journal's last record and all three reports; True if it did."""
    journal_path = run_dir / "journal.jsonl"
    if not journal_path.is_file():
        return False
    history = read_journal(journal_path)
    started = history.run
    # run_finished is the run's last act, after its reports: without it, the reports there may
    # be half written, or say "completed" for a run that never finished.
    if history.records and history.records[-1].get("kind") == "run_finished":
        return False
    if history.records:
        with journal_path.open("a", encoding="utf-8") as f:
            # A line cut by the kill would swallow ours: start on a fresh line.
            f.write("\n" + json.dumps({"kind": "run_finished", "t": time.time(), "status": "interrupted",
                                       "error": KILLED, "error_kind": None, "via": "sweep"}) + "\n")
        history = read_journal(journal_path)
    result = RunResult(experiment=str(started.get("experiment", "?")), system=str(started.get("system", "?")),
                       run_dir=run_dir, seed=int(started.get("seed") or 0), runtime=str(started.get("runtime", "local")),
                       defect=started.get("defect"), status="interrupted", error=KILLED,
                       started=float(started.get("t", 0.0)), finished=time.time(),
                       experiment_path=str(started.get("experiment_path", "")))
    result.counts = {"requests": len(history.requests),
                     "failures": len(history.requests) - history.requests.succeeded,
                     "events": len(history.events)}
    write_reports(run_dir, result, history)
    return True
