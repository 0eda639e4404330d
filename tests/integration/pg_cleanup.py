"""After a run with a PostgreSQL service: is anything it started still alive, or left on disk?"""
from __future__ import annotations

import time
from pathlib import Path

from harness.infra.postgres import data_dir_for
from harness.journal import read_journal


def leftovers(run_dir: Path, db_service: str = "postgres", timeout: float = 10.0) -> list[str]:
    """Processes the run started (services, Toxiproxy, and PostgreSQL's own children) that are
    still alive, and the cluster's data directory if it survived; empty when all is clean."""
    history = read_journal(run_dir / "journal.jsonl")
    pids = [r["pid"] for r in history.records if r["kind"] in ("service_started", "toxiproxy_started") and r.get("pid")]
    # The launcher's data key is "{run_dir}/{service}", the run folder as the harness resolved it.
    data_dir = data_dir_for(str(run_dir.resolve() / db_service))
    deadline = time.monotonic() + timeout
    while True:
        found = [f"pid {p}" for p in pids if _alive(p)]
        found += [f"pid {p.name}: {_cmdline(p)[:120]}" for p in Path("/proc").iterdir()
                  if p.name.isdigit() and str(data_dir) in _cmdline(p) and _alive(int(p.name))]
        if data_dir.exists():
            found.append(f"data directory {data_dir}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
