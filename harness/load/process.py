"""Runs Locust in a subprocess that stores every request itself, in the run's ``requests/`` folder.

The harness never imports Locust: ``import locust`` monkey-patches the whole process for
gevent. ``LoadProcess`` starts ``python -m harness.load.locust_process`` in a session of its
own (so a stop reaches the whole process group). The child writes its requests as columnar
chunks (:mod:`harness.data.chunks`) to ``<out_dir>/<writer>.hreq``; this process never parses
them while load runs. ``drain()`` (never blocks) returns the child's few JSON records
(``load_started``, ``load_stopped``) and keeps ``requests``/``failures`` counts from the chunk
headers alone. After load, :func:`harness.data.read_requests` reads the folder once.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..data.chunks import SUFFIX, Tail
from ..errors import EnvironmentProblem
from ..lifecycle import ChildProcess
from ..net import free_port

__all__ = ["LoadProcess", "Record"]

Record = dict[str, Any]

_POLL_INTERVAL = 0.05


class LoadProcess:
    """One Locust run: ``start()``, ``wait_started()``, ``drain()`` while it runs, ``stop()``.

    Also a context manager that stops the process on the way out, whatever happened.
    """

    def __init__(
        self,
        *,
        locustfile: Path,
        host: str,
        users: int,
        spawn_rate: float,
        duration: float,
        user_classes: list[str],
        seed: int,
        out_dir: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        record_bodies: int = 0,
        writer: str = "locust",
        workers: int = 0,
    ):
        self.locustfile = Path(locustfile)
        """The locustfile; its concrete User classes run unless ``user_classes`` names some."""
        self.host = host
        """Base URL every user sends to."""
        self.users = users
        self.spawn_rate = spawn_rate
        self.duration = duration
        """Seconds of load, from ``load_started``."""
        self.user_classes = list(user_classes)
        self.seed = seed
        """Seeds ``random`` in the Locust process."""
        self.out_dir = Path(out_dir)
        """The run's ``requests/`` folder; the child writes ``<writer>.hreq`` in it."""
        self.writer = writer
        """This process's name among the folder's writers (one file each)."""
        self.out_path = self.out_dir / f"{writer}{SUFFIX}"
        """The child's request file (truncated by ``start()``)."""
        self.log_path = Path(log_path)
        """The child's stdout and stderr."""
        self.env = dict(env or {})
        """Added to (and overriding) this process's environment for the child."""
        if record_bodies < 0:
            raise ValueError(f"record_bodies must be >= 0, not {record_bodies}")
        self.record_bodies = record_bodies
        """Bytes of each response body to record as ``body`` (0: none, the cheap default)."""
        if workers < 0:
            raise ValueError(f"workers must be >= 0, not {workers}")
        self.workers = workers
        """0: one Locust process. N: Locust's master (this process's file: its records) and N workers,
        each recording the requests it makes in ``<writer>-worker-<i>.hreq``."""
        self.worker_paths = [self.out_dir / f"{writer}-worker-{i}{SUFFIX}" for i in range(1, workers + 1)]
        self.master_port = free_port() if workers else 0
        self._proc: ChildProcess | None = None
        self._workers: list[ChildProcess] = []
        self._tail = Tail(self.out_dir, only=self.out_path)
        self._worker_tails = [Tail(self.out_dir, only=path) for path in self.worker_paths]
        self._pending: list[Record] = []
        self._started_at: float | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "harness.load.locust_process",
            "--locustfile", str(self.locustfile),
            "--host", self.host,
            "--users", str(self.users),
            "--spawn-rate", repr(float(self.spawn_rate)),
            "--run-time", repr(float(self.duration)),
            "--seed", str(self.seed),
            "--out", str(self.out_path),
        ]
        for name in self.user_classes:
            cmd += ["--user-class", name]
        if self.record_bodies:
            cmd += ["--record-bodies", str(self.record_bodies)]
        if self.workers:
            cmd += ["--workers", str(self.workers), "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(self.master_port)]
        return cmd

    def worker_command(self, index: int) -> list[str]:
        """Worker ``index`` (1-based) of the master on ``master_port``: same locustfile and classes, its own file."""
        cmd = [sys.executable, "-m", "harness.load.locust_process", "--worker",
               "--master-host", "127.0.0.1", "--master-port", str(self.master_port),
               "--locustfile", str(self.locustfile), "--host", self.host,
               "--seed", str(self.seed + index), "--out", str(self.worker_paths[index - 1])]
        for name in self.user_classes:
            cmd += ["--user-class", name]
        if self.record_bodies:
            cmd += ["--record-bodies", str(self.record_bodies)]
        return cmd

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("LoadProcess.start() called twice; make a new LoadProcess per run")
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for path in (self.out_path, *self.worker_paths):
            path.write_bytes(b"")  # records of an earlier run must not be read as this one's
        # The same interpreter imports the same installed harness: no path of a checkout is needed.
        env = {**os.environ, **self.env}
        proc = ChildProcess("locust", self.command(), log_path=self.log_path, env=env, truncate_log=True)
        try:
            proc.start()
            self._proc = proc
            for i in range(1, self.workers + 1):
                log = self.log_path.with_name(f"{self.log_path.stem}-worker-{i}{self.log_path.suffix}")
                worker = ChildProcess(f"locust-worker-{i}", self.worker_command(i), log_path=log, env=env, truncate_log=True)
                worker.start()
                self._workers.append(worker)
        except OSError as exc:
            self.stop()
            raise EnvironmentProblem(
                f"could not start Locust ({sys.executable} -m harness.load.locust_process): {exc}",
                hint="check that this Python has locust installed",
            ) from exc

    def poll(self) -> int | None:
        """The exit code, or None while the process runs."""
        return self._require_started().poll()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def wait_started(self, timeout: float) -> float:
        """Block until the child records ``load_started``; return its ``t`` (epoch seconds).

        The records read meanwhile stay queued for the next ``drain()``. If the child exits
        first, or nothing comes within ``timeout`` (then the child is stopped), raises
        EnvironmentProblem with the end of its log.
        """
        proc = self._require_started()
        deadline = time.monotonic() + timeout
        while self._started_at is None:
            exited = proc.poll()  # before reading, so a record written just before exit is seen
            self._queue_new_records()
            if self._started_at is not None:
                break
            if exited is not None:
                raise EnvironmentProblem(
                    f"Locust exited with code {exited} before load started "
                    f"(locustfile {self.locustfile}):\n{self._indented_log_tail()}",
                    hint=f"full log: {self.log_path}",
                )
            if time.monotonic() >= deadline:
                self.stop()
                raise EnvironmentProblem(
                    f"Locust did not start load within {timeout:g}s (locustfile {self.locustfile}); "
                    f"it was stopped. Its log ends:\n{self._indented_log_tail()}",
                    hint=f"a slow machine may need a longer timeout; full log: {self.log_path}",
                )
            time.sleep(_POLL_INTERVAL)
        return self._started_at

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, wait up to ``timeout``, then SIGKILL it. Idempotent.

        The child answers SIGTERM by ending the load and writing ``load_stopped``: ``drain()``
        after ``stop()`` returns the last records. Returns the exit code (None if never started).
        """
        if self._proc is None:
            return None
        code = self._proc.stop(timeout)  # the master first: it tells its workers to quit
        for worker in self._workers:
            worker.stop(timeout)
        return code

    def __enter__(self) -> LoadProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- records ----------------------------------------------------------------------------

    def drain(self) -> list[Record]:
        """The child's JSON records (``load_started``, ``load_stopped``) since the last call. Never blocks.

        Request chunks are only counted (``requests``, ``failures``), never decoded; a chunk
        still being written is left for the next call.
        """
        self._queue_new_records()
        records, self._pending = self._pending, []
        return records

    @property
    def requests(self) -> int:
        """Requests recorded so far (as of the last ``drain``), by every worker."""
        return self._tail.requests + sum(t.requests for t in self._worker_tails)

    @property
    def failures(self) -> int:
        """Requests recorded so far whose outcome is not ok."""
        return self._tail.failures + sum(t.failures for t in self._worker_tails)

    def _queue_new_records(self) -> None:
        for tail in self._worker_tails:
            self._pending.extend(tail.poll())  # workers write requests only; counted here
        for record in self._tail.poll():
            if self._started_at is None and record.get("kind") == "load_started":
                self._started_at = float(record["t"])
            self._pending.append(record)

    # --- diagnostics ------------------------------------------------------------------------

    def log_tail(self, n: int = 20) -> str:
        """The last ``n`` lines of the child's log ("" if there is none yet)."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                data = f.read()
        except FileNotFoundError:
            return ""
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-n:])

    def _indented_log_tail(self) -> str:
        tail = self.log_tail(20)
        return "\n".join("    " + line for line in tail.splitlines()) if tail else "    (log is empty)"

    def _require_started(self) -> ChildProcess:
        if self._proc is None:
            raise RuntimeError("LoadProcess is not started; call start() first")
        return self._proc
