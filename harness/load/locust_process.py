"""The Locust subprocess: ``python -m harness.load.locust_process --locustfile F --out O ...``.

This is the only module of the harness that imports Locust, and it runs only as a process of
its own: ``import locust`` monkey-patches the whole process for gevent, which must never
happen to the harness (see /work/shared/ENVIRONMENT.md). ``harness.load.LoadProcess`` starts
it and reads ``--out``.

``--out`` is this process's request file (``requests/<writer>.hreq`` in the run folder), in
the chunked columnar format of :mod:`harness.data.chunks`: ``load_started`` first (a JSON
chunk), then batches of requests, then ``load_stopped``. Per request: ``t`` (start, epoch
s), ``name``, ``method``, ``ms`` (raw float), ``outcome`` (ok | fail | info), ``status``
(none when there was no answer), ``error`` and ``bytes``. Requests are appended to columns in
memory (a few appends each, no encoding per request) and written as one chunk every 0.2 s by
a greenlet, so the harness never parses requests while load runs.

Locust's own statistics round percentiles (10 ms steps below 1 s), so each request's raw
timing is written here instead. ``info`` means the client cannot know the outcome: the
request timed out, and the server may well have done the work.

With ``--record-bodies N`` (N > 0) each request that got an answer also carries ``body``: the
first N bytes of the response body as text (invalid UTF-8 replaced), and ``body_truncated``
when the body was longer. Off by default: checks of response content (conformance) need it,
every other check does not, and the hot path then pays one integer test per request.

Master and workers (Locust's own distributed mode, ``--workers N`` on the master, ``--worker`` on
each worker): every worker records the requests it makes in its own file (``--out``); the master
makes none, so it records only ``load_started`` (once N workers are connected) and
``load_stopped``, which carries Locust's own totals (``locust_requests``, ``locust_failures``,
aggregated from the workers' reports) for comparison with what the files hold. A request is
recorded once, by the process that made it.

Exit codes: 0 when the load ran (even if every request failed), 2 for a bad locustfile or an
unknown ``--user-class``; the reason goes to stderr.
"""
from __future__ import annotations

# First import on purpose: gevent patches this process before anything else opens a socket.
import locust  # noqa: I001
import locust.env
import locust.log
import locust.runners
import locust.stats
from locust import User

import argparse
import importlib.util
import inspect
import os
import random
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.data.chunks import FAIL, INFO, OK, ChunkWriter

import gevent
import gevent.event
import requests

FLUSH_INTERVAL = 0.2
EXIT_USAGE = 2

_TIMEOUT_TYPES: tuple[type[BaseException], ...] = (
    TimeoutError,  # socket.timeout is an alias since 3.10
    gevent.Timeout,  # FastHttpUser's network_timeout
    requests.exceptions.Timeout,  # HttpUser's timeout=
)


class UsageError(Exception):
    """A locustfile or an option that cannot run: reported on stderr, exit 2."""


# --- locustfile -----------------------------------------------------------------------------


def import_locustfile(path: Path) -> ModuleType:
    if not path.is_file():
        raise UsageError(f"locustfile not found: {path}")
    # A manifest's load.requirements / load.python: after this interpreter's own path, so the
    # harness's and Locust's packages always win (harness.load.dependencies).
    sys.path.extend(p for p in os.environ.get("HARNESS_LOAD_PATH", "").split(os.pathsep) if p)
    # Its own directory first, as Locust does, so a locustfile can import its helpers.
    sys.path.insert(0, str(path.parent.resolve()))
    # A fixed module name: a file called locust.py or random.py must not shadow a real module.
    spec = importlib.util.spec_from_file_location("_harness_locustfile", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        hint = (" (declare what it needs in the manifest's load.requirements, or name an interpreter that has it in "
                "load.python)") if isinstance(exc, ModuleNotFoundError) else ""
        raise UsageError(f"locustfile {path} failed to import: {type(exc).__name__}: {exc}{hint}") from exc
    return module


def select_user_classes(module: ModuleType, path: Path, names: list[str]) -> list[type[User]]:
    """The named classes, or every concrete User subclass defined in the locustfile itself."""
    visible = {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and issubclass(obj, User) and not obj.abstract
    }
    defined_here = [cls for cls in visible.values() if cls.__module__ == module.__name__]
    if not names:
        if not defined_here:
            raise UsageError(f"no User classes in {path} (abstract ones and imported ones do not count)")
        return defined_here
    unknown = [n for n in names if n not in visible]
    if unknown:
        found = ", ".join(sorted(visible)) or "none"
        raise UsageError(
            f"unknown user class {', '.join(repr(n) for n in unknown)} in {path}; found: {found}"
        )
    return [visible[n] for n in dict.fromkeys(names)]


# --- records --------------------------------------------------------------------------------


def outcome_of(exception: BaseException | None) -> str:
    if exception is None:
        return "ok"
    for exc in _chain(exception):
        if type(exc).__name__ == "ConnectTimeout" or isinstance(exc, ConnectionRefusedError):
            return "fail"  # no connection, so the request was never sent: its outcome is known
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return "info"  # the connection broke after it was made: the server may have acted
        if isinstance(exc, _TIMEOUT_TYPES) or "Timeout" in type(exc).__name__:
            return "info"
    # geventhttpclient reports a read timeout as RetriesExceeded(..., original=timed out), and a
    # catch_response failure is free text: the message is the last resort.
    text = str(exception)
    if "timed out" in text or "Timeout" in text or "Connection reset" in text:
        return "info"
    return "fail"


def _chain(exception: BaseException, depth: int = 5) -> list[BaseException]:
    """The exception and what it wraps: geventhttpclient's ``original``, then cause/context."""
    seen: list[BaseException] = []
    exc: BaseException | None = exception
    while exc is not None and len(seen) < depth and exc not in seen:
        seen.append(exc)
        inner = getattr(exc, "original", None)
        exc = inner if isinstance(inner, BaseException) else (exc.__cause__ or exc.__context__)
    return seen


def body_fields(response: Any, limit: int) -> tuple[bytes, bool] | None:
    """A response's first ``limit`` bytes (as UTF-8 text, re-encoded) and whether it was cut; None if it has none."""
    try:
        content = response.content  # already read by Locust's clients; may raise for a broken answer
    except Exception:
        return None
    if isinstance(content, str):
        content = content.encode("utf-8", errors="replace")
    if not isinstance(content, (bytes, bytearray)):
        return None
    # errors="replace": a cut in the middle of a multi-byte character must not lose the body.
    text = bytes(content[:limit]).decode("utf-8", errors="replace")
    return text.encode("utf-8"), len(content) > limit


def describe(exception: BaseException) -> str:
    text = str(exception)
    return f"{type(exception).__name__}: {text}" if text else type(exception).__name__


class RecordWriter:
    """Puts each request into a :class:`ChunkWriter`'s columns; a greenlet writes a chunk every ``FLUSH_INTERVAL``."""

    def __init__(self, path: Path, record_bodies: int = 0):
        self._out = ChunkWriter(path, record_bodies=record_bodies)
        self._body_limit = record_bodies
        self._flusher: gevent.Greenlet | None = None

    def write(self, kind: str, **fields: Any) -> None:
        self._out.record({"kind": kind, "t": time.time(), **fields})

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None,
        response: Any = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        ms = float(response_time) if response_time is not None else None
        if start_time is None:  # a custom client that fires the event without it
            start_time = time.time() - (ms or 0.0) / 1000.0
        status = getattr(response, "status_code", None)
        if not isinstance(status, int) or status <= 0:
            status = None  # 0 is Locust's "no answer", not an HTTP status
        if exception is None:
            outcome, error = OK, None
        else:
            outcome, error = (INFO if outcome_of(exception) == "info" else FAIL), describe(exception)
        body = body_fields(response, self._body_limit) if self._body_limit and status is not None else None
        self._out.add(start_time, ms, outcome, status, response_length if isinstance(response_length, int) else None,
                      name, request_type, error, *(body or (None, False)))

    def start_flushing(self) -> None:
        self._flusher = gevent.spawn(self._flush_forever)

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL)
            self._out.flush()

    def close(self) -> None:
        if self._flusher is not None:
            self._flusher.kill(block=True)
        self._out.close()


# --- the run --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m harness.load.locust_process", description=__doc__.split("\n")[0])
    p.add_argument("--locustfile", required=True, type=Path)
    p.add_argument("--host", default=None, help="base URL; default: each user class's own host")
    p.add_argument("--users", type=int, default=1)
    p.add_argument("--spawn-rate", type=float, default=1.0)
    p.add_argument("--run-time", type=float, default=None, help="seconds of load, a float (not for --worker)")
    p.add_argument("--user-class", action="append", default=[], dest="user_classes",
                   help="run only this class (repeatable); default: every class the locustfile defines")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="this process's request file (requests/<writer>.hreq)")
    p.add_argument("--record-bodies", type=int, default=0, metavar="N",
                   help="record the first N bytes of every response body (0, the default: none)")
    p.add_argument("--print-stats", action="store_true", help="print Locust's summary tables to stdout at the end")
    p.add_argument("--workers", type=int, default=0, help="be Locust's master for N workers (they make the requests)")
    p.add_argument("--master-bind-host", default="127.0.0.1", help="the master's address for its workers")
    p.add_argument("--master-bind-port", type=int, default=5557)
    p.add_argument("--worker", action="store_true", help="be a worker of the master at --master-host:--master-port")
    p.add_argument("--master-host", default="127.0.0.1")
    p.add_argument("--master-port", type=int, default=5557)
    p.add_argument("--workers-timeout", type=float, default=60.0, help="seconds the master waits for its workers")
    args = p.parse_args(argv)
    if args.run_time is None and not args.worker:
        p.error("--run-time is required (except for --worker)")
    if args.users < 1 or args.spawn_rate <= 0 or (args.run_time or 0) < 0 or args.record_bodies < 0 or args.workers < 0:
        p.error("--users must be >= 1, --spawn-rate > 0, --run-time >= 0, --record-bodies >= 0 and --workers >= 0")
    return args


def run(args: argparse.Namespace) -> int:
    locust.log.setup_logging("WARNING")
    try:
        user_classes = select_user_classes(import_locustfile(args.locustfile), args.locustfile, args.user_classes)
    except UsageError as exc:
        print(f"harness.load.locust_process: {exc}", file=sys.stderr)
        return EXIT_USAGE
    random.seed(args.seed)

    env = locust.env.Environment(user_classes=user_classes, host=args.host, events=locust.events)
    if args.worker:
        return run_worker(env, args)
    runner: locust.runners.Runner
    if args.workers:
        runner = env.create_master_runner(master_bind_host=args.master_bind_host, master_bind_port=args.master_bind_port)
    else:
        runner = env.create_local_runner()
    env.events.init.fire(environment=env, runner=runner, web_ui=None)

    stop_requested = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop_requested.set)

    writer = RecordWriter(args.out, record_bodies=args.record_bodies)
    env.events.request.add_listener(writer.on_request)
    writer.start_flushing()
    try:
        if args.workers and not wait_for_workers(runner, args.workers, args.workers_timeout, stop_requested):
            print(f"harness.load.locust_process: {runner.worker_count} of {args.workers} worker(s) connected "
                  f"within {args.workers_timeout:g}s", file=sys.stderr)
            runner.quit()
            return 3
        # Written before start(): no user greenlet can run (and record) until this one yields.
        writer.write("load_started", users=args.users, spawn_rate=args.spawn_rate, workers=args.workers)
        runner.start(args.users, args.spawn_rate)
        # The loop's clock is cached: refresh it, or the import time above is taken off the run.
        gevent.get_hub().loop.update_now()
        stop_requested.wait(timeout=args.run_time)
        totals: dict[str, Any] = {}
        if args.workers:
            # load_stopped keeps the time load stopped, not the time the totals were complete.
            # Users stop on every worker; their last statistics reach the master within one
            # report interval. Only then are Locust's own totals complete.
            runner.stop()
            stopped_at = time.time()
            gevent.sleep(locust.runners.WORKER_REPORT_INTERVAL + 1.0)
            totals = {"t": stopped_at, "locust_requests": env.stats.total.num_requests,
                      "locust_failures": env.stats.total.num_failures}
        runner.quit()
        writer.write("load_stopped", **totals)
    finally:
        writer.close()
    env.events.quitting.fire(environment=env, reverse=True)
    if args.print_stats:
        lines = locust.stats.get_stats_summary(env.stats, current=False)
        lines += ["", *locust.stats.get_percentile_stats_summary(env.stats)]
        if env.stats.errors:
            lines += ["", *locust.stats.get_error_report_summary(env.stats)]
        print("\n".join(lines), flush=True)
    return 0


def wait_for_workers(runner: Any, n: int, timeout: float, stop: gevent.event.Event) -> bool:
    deadline = time.monotonic() + timeout
    while runner.worker_count < n:
        if time.monotonic() >= deadline or stop.is_set():
            return False
        gevent.sleep(0.1)
    return True


def run_worker(env: Any, args: argparse.Namespace) -> int:
    """One worker: makes the requests the master hands it, records each in its own file, until told to quit."""
    runner = env.create_worker_runner(master_host=args.master_host, master_port=args.master_port)
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    stop_requested = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop_requested.set)
    writer = RecordWriter(args.out, record_bodies=args.record_bodies)
    env.events.request.add_listener(writer.on_request)
    writer.start_flushing()
    try:
        # The master's "quit" ends the worker's greenlet (after its last statistics report).
        quit_seen = gevent.spawn(runner.greenlet.join)
        gevent.wait([quit_seen, gevent.spawn(stop_requested.wait)], count=1)
        if stop_requested.is_set():
            runner.stop()
    finally:
        writer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
