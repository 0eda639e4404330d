"""Find and run a ``prometheus`` process on loopback for one run.

Prometheus is optional: a run without it still works, and a PromQL check then says why it
cannot judge (``unknown``). So a missing binary is not an error here but a *reason*, which
the runtime records in the journal (``prometheus_unavailable``) for checks to quote.

The binary is ``$HARNESS_PROMETHEUS`` if set (``off`` turns Prometheus off), else
``prometheus`` on ``PATH``, else ``/usr/bin/prometheus`` (Debian's package). Its storage is a
temporary directory removed by ``stop()``; its configuration (from
:func:`.prometheus_config.render_config`) and its log stay in the run folder.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import httpx

from .. import runstate
from ..lifecycle import ChildProcess
from ..net import free_port
from .prometheus_config import ScrapeTarget, render_config

if TYPE_CHECKING:
    from ..journal import JournalWriter

__all__ = ["ENV_VAR", "PrometheusServer", "PrometheusUnavailable", "find_prometheus"]

ENV_VAR = "HARNESS_PROMETHEUS"
DEBIAN_PATH = Path("/usr/bin/prometheus")
OFF_VALUES = ("off", "none", "false", "0", "no")
HINT = f"install Debian's prometheus package (apt-get install prometheus) or set {ENV_VAR} to a prometheus binary"


class PrometheusUnavailable(Exception):
    """No Prometheus for this run; the message says why and what to do."""


def find_prometheus() -> Path:
    """The binary to run, or PrometheusUnavailable naming where it looked."""
    named = os.environ.get(ENV_VAR)
    if named is not None:
        if named.strip().lower() in OFF_VALUES:
            raise PrometheusUnavailable(f"Prometheus is turned off ({ENV_VAR}={named})")
        path = Path(named)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise PrometheusUnavailable(f"{ENV_VAR}={named} is not an executable file; {HINT}")
        return path
    found = shutil.which("prometheus")
    if found:
        return Path(found)
    if DEBIAN_PATH.is_file() and os.access(DEBIAN_PATH, os.X_OK):
        return DEBIAN_PATH
    raise PrometheusUnavailable(f"no prometheus binary in ${ENV_VAR}, PATH or {DEBIAN_PATH}; {HINT}")


class PrometheusServer:
    """One Prometheus process: ``start(targets)`` (or ``start_for_run``), query ``.url``, ``stop()``.

    Created before anything starts, so whoever holds it can always stop it (like
    ``ToxiproxyServer``): an interrupt between starting and recording cannot leak a process.
    """

    def __init__(self, *, config_path: Path, log_path: Path, binary: Path | None = None, host: str = "127.0.0.1",
                 scrape_interval: float = 1.0, startup_timeout: float = 30.0):
        self.binary = binary
        """None finds it with find_prometheus() at start."""
        self.targets: list[ScrapeTarget] = []
        self.config_path = config_path
        """Where the rendered prometheus.yml is written (kept: it shows what was scraped)."""
        self.log_path = log_path
        self.host = host
        self.scrape_interval = scrape_interval
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._storage: str | None = None
        self._process: ChildProcess | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("PrometheusServer has no port before start()")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def storage(self) -> str | None:
        """The temporary TSDB directory while running; removed by stop()."""
        return self._storage

    def start(self, targets: list[ScrapeTarget]) -> "PrometheusServer":
        """Start and wait until ready; on failure stop what started and raise PrometheusUnavailable."""
        if self._process is not None:
            raise RuntimeError("PrometheusServer.start() called twice")
        self.targets = list(targets)
        try:
            self.binary = self.binary or find_prometheus()
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(render_config(self.targets, self.scrape_interval), encoding="utf-8")
        self._storage = tempfile.mkdtemp(prefix="harness-prometheus-")
        runstate.record_path(self._storage)  # removed by a sweep if the harness dies before stop()
        self.port = free_port(self.host)
        command = [str(self.binary), f"--config.file={self.config_path}", f"--storage.tsdb.path={self._storage}",
                   f"--web.listen-address={self.host}:{self.port}", "--log.level=info"]
        # The runner still queries it during teardown (ChildProcess keeps Ctrl-C away), then stops it.
        self._process = ChildProcess("prometheus", command, log_path=self.log_path)
        self._process.start()
        self._wait_ready(self._process)

    def _wait_ready(self, process: ChildProcess) -> None:
        command = process.argv
        deadline = time.monotonic() + self.startup_timeout
        last: Exception | None = None
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                code = process.poll()
                if code is not None:
                    raise PrometheusUnavailable(f"prometheus exited with code {code} before it was ready\n"
                                                f"  command: {' '.join(command)}\n{self._log_tail()}")
                try:
                    if client.get(self.url + "/-/ready").status_code == 200:
                        return
                except httpx.HTTPError as exc:
                    last = exc
                time.sleep(0.05)
        raise PrometheusUnavailable(f"prometheus at {self.url} was not ready within {self.startup_timeout:g}s "
                                    f"(last error: {last})\n  command: {' '.join(command)}\n{self._log_tail()}")

    def _log_tail(self, lines: int = 10) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        return f"  last lines of {self.log_path}:\n" + ("\n".join(text.splitlines()[-lines:]) or "<empty log>")

    def stop(self, grace: float = 5.0) -> bool:
        """SIGTERM, SIGKILL after ``grace`` seconds, then remove the storage. Idempotent.

        True if there was a process to stop.
        """
        process, self._process = self._process, None
        if process is not None:
            process.stop(timeout=grace)
        storage, self._storage = self._storage, None
        if storage is not None:
            shutil.rmtree(storage, ignore_errors=True)
        return process is not None and process.started

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def wait_scraping(self, journal: "JournalWriter", timeout: float = 15.0) -> bool:
        """Block until every target was scraped once (up or down), so load starts under watch.

        Prometheus 2.x hands targets to its scrapers on a 5 s tick: its first scrape comes
        about 5 s after start-up, whatever the interval. Runtimes start it before the
        services so that this overlaps their start-up.
        """
        if not self.running:
            return False
        began = time.monotonic()
        seen = 0
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() - began < timeout and self.running:
                try:
                    result = client.get("/api/v1/query", params={"query": "count(up)"}).json()["data"]["result"]
                    seen = int(float(result[0]["value"][1])) if result else 0
                except (httpx.HTTPError, ValueError, KeyError, IndexError):
                    seen = 0
                if seen >= len(self.targets):
                    break
                time.sleep(0.1)
        journal.write("prometheus_scraping", waited_s=round(time.monotonic() - began, 3), targets=len(self.targets),
                      targets_scraped=seen)
        return seen >= len(self.targets)


    def start_for_run(self, targets: list[ScrapeTarget], journal: "JournalWriter",
                      notice: Callable[[str], None] | None = None) -> bool:
        """A runtime's one call: start if there is a Prometheus, and say so in the journal either way.

        ``prometheus_started`` carries the URL PromQL checks query; ``prometheus_unavailable``
        the reason they quote when they cannot judge. Never raises PrometheusUnavailable.
        """
        try:
            self.start(targets)
        except PrometheusUnavailable as exc:
            journal.write("prometheus_unavailable", reason=str(exc))
            if self.binary is not None and notice:
                # Found but would not start: worth a word on the console; the run goes on without it.
                notice(f"Prometheus did not start, PromQL checks will be unknown: {str(exc).splitlines()[0]}")
            return False
        journal.write("prometheus_started", url=self.url, pid=self.pid, binary=str(self.binary), storage=self.storage,
                      scrape_interval=self.scrape_interval, config=str(self.config_path),
                      targets=[{"job": t.job, "address": t.address, "metrics_path": t.metrics_path}
                               for t in self.targets])
        return True
