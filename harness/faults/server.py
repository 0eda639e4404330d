"""Find and run ``toxiproxy-server`` as a child process on loopback.

A half-started server tears itself down: if the API does not answer, the process is stopped
and the error quotes the last lines of its log, which is where a bind failure shows.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self

import httpx

from ..errors import ToolMissing, ToxiproxyError
from ..lifecycle import ChildProcess
from ..net import free_port, port_is_open
from .toxiproxy import ToxiproxyClient, ToxiproxyRequestError

__all__ = ["BINARY_NAME", "ENV_VAR", "ToxiproxyServer", "find_server_binary"]

BINARY_NAME = "toxiproxy-server"
ENV_VAR = "HARNESS_TOXIPROXY_SERVER"
REPO_ROOT = Path(__file__).resolve().parents[2]  # harness/faults/server.py -> repo root
_HINT = f"run `make tools` or set {ENV_VAR}"


def find_server_binary(repo_root: Path = REPO_ROOT) -> Path:
    """The binary named by $HARNESS_TOXIPROXY_SERVER, else <repo>/.tools/bin, else PATH."""
    named = os.environ.get(ENV_VAR)
    if named:
        # An explicit setting that is wrong is an error, not a reason to quietly use another binary.
        path = Path(named)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToolMissing(f"{ENV_VAR}={named} is not an executable file", hint=_HINT)
        return path
    local = repo_root / ".tools" / "bin" / BINARY_NAME
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(BINARY_NAME)
    if found:
        return Path(found)
    raise ToolMissing(f"{BINARY_NAME} not found in ${ENV_VAR}, {local.parent} or PATH", hint=_HINT)


_FATAL_LINE = '"message":"Server finished with error"'


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:]) or "<empty log>"


class ToxiproxyServer:
    """One ``toxiproxy-server`` process: ``start()``, use ``.client``, ``stop()``; or ``with``."""

    def __init__(
        self,
        log_path: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: Path | None = None,
        startup_timeout: float = 10.0,
        log_level: str = "info",
    ):
        self.log_path = Path(log_path)
        """Where the server's stdout and stderr go (appended)."""
        self.host = host
        self.port = port
        """None picks a free port at start()."""
        self.binary = binary
        """None finds it with find_server_binary() at start()."""
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        """Toxiproxy's LOG_LEVEL. Unset, it logs at trace: lines for every connection and API call."""
        self._process: ChildProcess | None = None
        self._client: ToxiproxyClient | None = None

    @property
    def api_url(self) -> str:
        if self.port is None:
            raise RuntimeError("ToxiproxyServer has no port before start()")
        return f"http://{self.host}:{self.port}"

    @property
    def client(self) -> ToxiproxyClient:
        """A client for this server, shared and closed by stop()."""
        if self._client is None:
            self._client = ToxiproxyClient(self.api_url)
        return self._client

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> Self:
        if self._process is not None:
            raise RuntimeError("ToxiproxyServer.start() called twice")
        binary = self.binary or find_server_binary()
        if self.port is None:
            self.port = free_port(self.host)
        elif port_is_open(self.host, self.port):
            # Often a server left over from an earlier run: its API would answer our probe
            # while ours fails to bind, and we would drive the wrong server.
            raise ToxiproxyError(
                f"{self.host}:{self.port} is already in use, cannot start toxiproxy-server there",
                hint="stop what listens there (an earlier toxiproxy-server?) or let the harness pick a free port",
            )
        command = [str(binary), "-host", self.host, "-port", str(self.port), "-proxy-metrics"]
        # The log is appended to across runs: the process reads only its own lines (log_text()).
        self._process = ChildProcess("toxiproxy", command, log_path=self.log_path,
                                     env={**os.environ, "LOG_LEVEL": self.log_level})
        try:
            self._process.start()
            self._wait_until_answering(self._process)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self, process: ChildProcess) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last: ToxiproxyRequestError | None = None
        # Short per-probe timeouts, so one unanswered probe cannot eat the whole start-up budget.
        with ToxiproxyClient(self.api_url, timeout=httpx.Timeout(1.0)) as probe:
            while time.monotonic() < deadline:
                code = process.poll()
                if code is not None:
                    self._fail(f"exited with code {code} before its API answered", process, last)
                # On a bind failure the server logs this and then waits for a signal instead of exiting.
                if _FATAL_LINE in process.log_text():
                    self._fail("reported an error before its API answered", process, last)
                try:
                    probe.version()
                    return
                except ToxiproxyRequestError as exc:
                    last = exc
                time.sleep(0.05)
        self._fail(f"API at {self.api_url} did not answer within {self.startup_timeout:g}s", process, last)

    def _fail(self, what: str, process: ChildProcess, last: ToxiproxyRequestError | None) -> NoReturn:
        raise ToxiproxyError(
            f"toxiproxy-server {what}\n  command: {' '.join(process.argv)}\n"
            f"  last lines of {self.log_path}:\n{_tail(process.log_text())}",
            hint="if the log says 'address already in use', another process took the port",
        ) from last

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Safe to call any number of times."""
        if self._client is not None:
            self._client.close()
            self._client = None
        process, self._process = self._process, None
        if process is not None:
            process.stop(timeout=grace)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"ToxiproxyServer({self.host}:{self.port}, {state})"
