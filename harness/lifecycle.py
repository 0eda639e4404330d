"""A child process the harness owns: started in a session of its own, always stoppable.

Every process the harness starts is one of these: Toxiproxy's server, Prometheus, each service
of the local runtime, Locust. Terminate-then-kill is written here once:

    stop()   SIGCONT if paused (a stopped process cannot act on SIGTERM), SIGTERM to the group,
             SIGKILL to the group after ``stop_timeout``, then SIGKILL once more to the group to
             reap what the leader left (a uvicorn worker, a shell's child)
    kill()   SIGKILL to the group at once, as a crash would

A session of its own (``start_new_session``) makes the child the leader of a process group, so
a signal reaches whatever it spawned, and keeps the terminal's Ctrl-C away from it: the harness
decides when each process stops (it must still reach Toxiproxy to heal faults after Ctrl-C).
The child's stdout and stderr go to one log file; the parent keeps no handle on it.
"""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import runstate

__all__ = ["ChildProcess"]

KILL_WAIT_S = 5.0
"""How long to wait for the kernel to reap a SIGKILLed process (longer only in uninterruptible sleep)."""


class ChildProcess:
    """One process: ``start()``, ``poll()``/``running``, ``pause()``/``resume()``, ``kill()``, ``stop()``."""

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None, stop_timeout: float = 5.0, truncate_log: bool = False):
        self.name = name
        """What the process is, for messages ("toxiproxy", a service's name, "locust")."""
        self.argv = list(argv)
        self.log_path = Path(log_path)
        """Its stdout and stderr, appended (or truncated first, with ``truncate_log``)."""
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        """The child's whole environment; None inherits this process's."""
        self.stop_timeout = stop_timeout
        """Seconds between SIGTERM and SIGKILL in ``stop()``."""
        self.truncate_log = truncate_log
        self.log_offset = 0
        """Size of the log when this process started: its own lines come after it."""
        self.paused = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._swept = False

    # -- start -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start it; raises OSError (as ``subprocess.Popen`` does) when the program cannot run."""
        if self._proc is not None:
            raise RuntimeError(f"{self.name}: ChildProcess.start() called twice; make a new one per start")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb" if self.truncate_log else "ab") as log:
            self.log_offset = log.tell()
            self._proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        runstate.record_started(self._proc.pid, what=self.name)  # so a sweep finds it if the harness dies
        self.paused = False

    # -- state -------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._proc is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def poll(self) -> int | None:
        """The exit code, or None while it runs (or before it started)."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Block until it exits; raises ``subprocess.TimeoutExpired`` after ``timeout``."""
        if self._proc is None:
            raise RuntimeError(f"{self.name}: not started")
        return self._proc.wait(timeout)

    # -- signals -----------------------------------------------------------------------------
    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the whole process group; a group already gone is not an error."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, sig)  # start_new_session: the group id is the child's pid
        except (ProcessLookupError, PermissionError):
            pass

    def pause(self) -> None:
        self.signal_group(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal_group(signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        """SIGKILL the whole group, as a crash would, and reap the leader."""
        self.signal_group(signal.SIGKILL)
        self._reap(KILL_WAIT_S)
        self.paused = False

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` (default ``stop_timeout``). Idempotent.

        Returns the exit code (None if it never started, or would not die even after SIGKILL).
        """
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            if self.paused:
                self.resume()
            self.signal_group(signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self._reap(KILL_WAIT_S)
        if not self._swept and proc.poll() is not None:
            # Once, right after the leader exits: whatever it left in its group (a grandchild that
            # ignored SIGTERM). Not on later calls, when the group id could belong to someone else.
            self._swept = True
            self.signal_group(signal.SIGKILL)
            runstate.record_stopped(proc.pid)
        self.paused = False
        return proc.returncode

    def _reap(self, timeout: float) -> None:
        assert self._proc is not None
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass  # stuck in the kernel; stop() reports no exit code rather than hang the teardown

    # -- its log -----------------------------------------------------------------------------
    def log_text(self, since_start: bool = True, max_bytes: int = 64 * 1024) -> str:
        """The end of its log (at most ``max_bytes``), from this start on unless told otherwise."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                first = self.log_offset if since_start else 0
                f.seek(max(first, f.tell() - max_bytes))
                data = f.read()
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace")

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of its log ("" if there is none)."""
        return "\n".join(self.log_text(since_start=False).splitlines()[-lines:])

    def __repr__(self) -> str:
        state = "not started" if self._proc is None else (f"pid {self.pid}" if self.running else f"exited {self.poll()}")
        return f"ChildProcess({self.name}, {state})"
