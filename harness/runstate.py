"""What each run started on this machine, written down where a later run can find it.

Docker resources carry labels (``runtime/docker_resources.py``); local processes carry
nothing, so a harness killed with SIGKILL would leave Toxiproxy (with its toxics), services,
PostgreSQL, Locust and Prometheus running for ever. Each run therefore keeps a state file::

    <state dir>/<harness pid>-<harness start>-<run id>.jsonl

one JSON object per line, appended as things happen (a SIGKILL can cut only the last line):

    {"event": "run", "pid": <harness pid>, "start": <ticks>, "run_dir": ...}
    {"event": "started", "pid": P, "pgid": G, "start": <ticks of P>, "what": "service orders"}
    {"event": "stopped", "pid": P}
    {"event": "path", "path": "/tmp/harness-pg-..."}      a temporary directory to remove

``start`` is the process's start time (``/proc/<pid>/stat``), so a pid the kernel has since
given to an unrelated process is never signalled. The state dir is ``$HARNESS_STATE_DIR``,
else ``<tmp>/harness-state-<uid>``.

``sweep_dead_runs()`` (at the start of every run, and ``harness clean``) handles only files
whose harness process is gone: it SIGKILLs the process groups they recorded, removes their
directories and deletes the file. A live run's file is never touched, so two runs side by
side stay isolated, exactly like the Docker labels' ``io.harness.pid`` rule.

Process start sites call ``record_started`` / ``record_stopped`` (one line each); the runner
opens a ``tracking()`` scope per run. Outside a run (a test starting a Toxiproxy server),
records go to a file of the process itself, so they are swept too.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["ENV_STATE_DIR", "ENV_RUN_STATE", "RunState", "SweepReport", "child_env", "record_path",
           "record_path_from_child", "record_started", "record_stopped", "state_dir", "sweep_dead_runs", "tracking"]

ENV_STATE_DIR = "HARNESS_STATE_DIR"
ENV_RUN_STATE = "HARNESS_RUN_STATE"
"""Given to services: the run's state file, where a launcher records the directories it makes."""
PATH_PREFIX = "harness-"
"""Only directories named like this, directly in the temp dir, are ever removed from a state file."""


def state_dir() -> Path:
    named = os.environ.get(ENV_STATE_DIR)
    return Path(named) if named else Path(tempfile.gettempdir()) / f"harness-state-{os.getuid()}"


# -- process identity ------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return raw.rsplit(")", 1)[1].split()


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks after boot), or None if it is gone or a zombie."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z":
        return None
    return int(fields[19])


def _same_process(pid: int, start: int | None) -> bool:
    return start is not None and start_ticks(pid) == start


def _group_members(pgid: int, not_before: int) -> list[int]:
    """Live processes of group ``pgid`` that started no earlier than the recorded leader.

    The kernel hands out no pid that is still some group's id, so while any member of a
    recorded group lives, the group (and its number) is the one we recorded: members of a
    group whose leader died are a grandchild the leader left behind. Only when the leader's
    pid is alive as another process is the number someone else's (the caller skips that).
    """
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] == "Z":
            continue
        if int(fields[2]) == pgid and int(fields[19]) >= not_before:
            out.append(int(entry.name))
    return out


# -- one run's file ---------------------------------------------------------------------------

@dataclass
class Started:
    pid: int
    pgid: int
    start: int | None
    what: str
    stopped: bool = False


class RunState:
    """The state file of one run (or of one process outside runs): append-only, line-buffered."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def create(cls, run_id: str, run_dir: Path | None = None) -> RunState:
        me = os.getpid()
        directory = state_dir()
        state = cls(directory / f"{me}-{start_ticks(me) or 0}-{run_id}.jsonl")
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            state._append({"event": "run", "pid": me, "start": start_ticks(me), "run_dir": str(run_dir or ""),
                           "t": time.time()})
        except OSError:
            pass  # an unwritable state dir costs the sweep after a SIGKILL, not the run itself
        return state

    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            # One write(2) per line with O_APPEND: a launcher appending to the same file at the
            # same moment cannot interleave inside our line.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def record_started(self, pid: int, pgid: int | None = None, what: str = "", paths: list[str] | None = None) -> None:
        self._append({"event": "started", "pid": pid, "pgid": pgid if pgid is not None else pid,
                      "start": start_ticks(pid), "what": what})
        for p in paths or []:
            self.record_path(p)

    def record_stopped(self, pid: int) -> None:
        self._append({"event": "stopped", "pid": pid})

    def record_path(self, path: str | Path) -> None:
        self._append({"event": "path", "path": str(path)})

    # -- reading ------------------------------------------------------------------------------

    def read(self) -> tuple[dict[str, Any], list[Started], list[str]]:
        header: dict[str, Any] = {}
        started: dict[int, Started] = {}
        paths: list[str] = []
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return header, [], []
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line cut by a SIGKILL
            if not isinstance(rec, dict):
                continue
            event = rec.get("event")
            try:
                if event == "run":
                    header = rec
                elif event == "started":
                    pid = int(rec["pid"])
                    started[pid] = Started(pid, int(rec.get("pgid", pid)), rec.get("start"), str(rec.get("what", "")))
                elif event == "stopped" and int(rec["pid"]) in started:
                    started[int(rec["pid"])].stopped = True
                elif event == "path" and str(rec.get("path")) not in paths:
                    paths.append(str(rec["path"]))
            except (KeyError, TypeError, ValueError):
                continue
        return header, list(started.values()), paths

    def owner_alive(self) -> bool:
        header, _, _ = self.read()
        if not header:
            # No header yet: the file is being created right now, or its first write was cut.
            # Read the owner from the name instead.
            try:
                pid, start, _ = self.path.name.split("-", 2)
                return _same_process(int(pid), int(start))
            except ValueError:
                return False
        return _same_process(int(header.get("pid", 0)), header.get("start"))

    # -- clean-up -----------------------------------------------------------------------------

    def survivors(self) -> dict[int, str]:
        """pid -> what, for every recorded process (or member of its group) still running."""
        _, started, _ = self.read()
        alive: dict[int, str] = {}
        for s in started:
            if s.start is None:
                continue
            now = start_ticks(s.pid)
            if now == s.start:
                alive[s.pid] = s.what
            elif now is not None and s.pgid == s.pid:
                continue  # the pid is someone else's now, so the group number is no longer ours
            for member in _group_members(s.pgid, s.start):
                alive.setdefault(member, f"{s.what} (its process group)")
        return alive

    def kill_survivors(self, wait: float = 5.0) -> dict[int, str]:
        """SIGKILL what is still running; return what was (pid -> what)."""
        alive = self.survivors()
        if not alive:
            return {}
        _, started, _ = self.read()
        for s in started:
            if _same_process(s.pid, s.start):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(s.pgid, signal.SIGKILL)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(start_ticks(p) is not None for p in alive):
            time.sleep(0.05)
        return alive

    def remove_paths(self) -> list[str]:
        """Remove the recorded temporary directories (only ``<tmp>/harness-*``); return those removed."""
        _, _, paths = self.read()
        removed = []
        for p in paths:
            path = Path(p)
            if not _removable(path):
                continue
            if path.exists() or path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                if not path.exists():
                    removed.append(p)
        return removed

    def leftovers(self) -> list[str]:
        """What of this run is still there (processes, directories); empty when all is clean."""
        found = [f"pid {pid} ({what})" for pid, what in self.survivors().items()]
        _, _, paths = self.read()
        found += [f"directory {p}" for p in paths if _removable(Path(p)) and Path(p).exists()]
        return found

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _removable(path: Path) -> bool:
    return (path.is_absolute() and path.name.startswith(PATH_PREFIX) and ".." not in path.parts
            and path.parent == Path(tempfile.gettempdir()))


# -- the current run (per thread) and the one-line API for process start sites ----------------

_local = threading.local()
_process_state: RunState | None = None
_process_lock = threading.Lock()


def _current() -> RunState:
    state: RunState | None = getattr(_local, "state", None)
    if state is not None:
        return state
    global _process_state
    with _process_lock:
        if _process_state is None:
            _process_state = RunState.create("process")
        return _process_state


def record_started(pid: int, pgid: int | None = None, what: str = "", paths: list[str] | None = None) -> None:
    """A process (a new session: its pgid is its pid unless given) was started for the current run."""
    with contextlib.suppress(OSError):  # bookkeeping must never stop a run from starting
        _current().record_started(pid, pgid, what, paths)


def record_stopped(pid: int | None) -> None:
    if pid is not None:
        with contextlib.suppress(OSError):
            _current().record_stopped(pid)


def record_path(path: str | Path) -> None:
    """A temporary directory made for the current run (removed by a sweep if the harness dies)."""
    with contextlib.suppress(OSError):
        _current().record_path(path)


def child_env() -> dict[str, str]:
    """Environment for a service: where it may record temporary directories of its own."""
    return {ENV_RUN_STATE: str(_current().path)}


def record_path_from_child(path: str | Path) -> None:
    """In a service (e.g. the PostgreSQL launcher): record a directory before creating it."""
    named = os.environ.get(ENV_RUN_STATE)
    if named:
        with contextlib.suppress(OSError):
            RunState(Path(named)).record_path(path)


@contextlib.contextmanager
def tracking(run_id: str, run_dir: Path | None = None) -> Iterator[RunState]:
    """Record what this thread starts into the run's own file, for the length of the run."""
    state = RunState.create(run_id, run_dir)
    previous = getattr(_local, "state", None)
    _local.state = state
    try:
        yield state
    finally:
        _local.state = previous


# -- the sweep --------------------------------------------------------------------------------

@dataclass
class SweepReport:
    killed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    runs: int = 0
    """State files of dead harness processes handled."""
    left: list[str] = field(default_factory=list)
    """What could not be removed (kept on record for the next sweep)."""
    run_dirs: list[Path] = field(default_factory=list)
    """The run folders of the dead runs, for ``salvage.complete_dead_run``."""

    def lines(self) -> list[str]:
        return ([f"killed {k}" for k in self.killed] + [f"removed {r}" for r in self.removed]
                + [f"could not remove {x}" for x in self.left])


def sweep_dead_runs(dry_run: bool = False, complete: Callable[[Path], object] | None = None) -> SweepReport:
    """Stop and remove what runs of harness processes that no longer exist left on this machine.

    ``complete(run_dir)`` is called for each dead run's folder once its processes are gone (the
    runner and ``harness clean`` pass ``salvage.complete_dead_run``). Each file is swept under an
    exclusive lock, so two runs starting together never sweep (or complete) one dead run twice.
    """
    report = SweepReport()
    directory = state_dir()
    if not directory.is_dir():
        return report
    for path in sorted(directory.glob("*.jsonl")):
        state = RunState(path)
        if state.owner_alive():
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue  # swept by someone else a moment ago
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # another sweep holds it right now
            if not path.exists():
                continue
            _sweep_one(state, report, dry_run, complete)
        finally:
            os.close(fd)
    return report


def _sweep_one(state: RunState, report: SweepReport, dry_run: bool, complete: Callable[[Path], object] | None) -> None:
    report.runs += 1
    header, _, paths = state.read()
    if dry_run:
        report.killed += [f"pid {pid} ({what})" for pid, what in state.survivors().items()]
        report.removed += [p for p in paths if _removable(Path(p)) and Path(p).exists()]
        return
    report.killed += [f"pid {pid} ({what})" for pid, what in state.kill_survivors().items()]
    report.removed += state.remove_paths()
    run_dir = Path(str(header["run_dir"])) if header.get("run_dir") else None
    if run_dir is not None:
        report.run_dirs.append(run_dir)
        if complete is not None:
            try:
                complete(run_dir)
            except Exception as exc:  # noqa: BLE001 - one dead run's folder must not stop the sweep
                report.left.append(f"the reports of {run_dir} ({type(exc).__name__}: {exc})")
    left = state.leftovers()
    if left:
        report.left += left
    else:
        state.discard()
