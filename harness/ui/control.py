"""The harness side of the Chaos API: a small HTTP server on loopback that the Locust process forwards to.

Routes (the Locust web port serves the same paths, forwarded here):

    GET    /chaos/system          services, edges, fault types with their attributes' JSON Schema
    GET    /chaos/faults          the faults active now
    POST   /chaos/faults          apply one (an experiment file's fault fields); 400 + message on bad input
    DELETE /chaos/faults/NAME     remove one
    GET    /chaos/events?since=T  faults, target events (breaker state...), swarms, after epoch T
    POST   /chaos/timeline        start the experiment's own fault timeline, from now
    POST   /chaos/stop            end the session (faults removed, everything stopped, reports written)
    GET    /chaos/feed            rows for the tab's live table (Locust's extended_stats)

Threads only parse, validate and wait: every action on the deployment, Toxiproxy or the journal
is a command that the session's main loop carries out between ticks (``Commands``), so the run's
parts are touched by one thread, as in ``harness run``.
"""
from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import InputError

COMMAND_TIMEOUT_S = 30.0
MAX_BODY = 1_000_000


@dataclass
class Answer:
    status: int
    body: Any


class ChaosApi(Protocol):
    """What the session offers the API. Methods marked "loop" run on the session's main loop."""

    def system(self) -> dict[str, Any]: ...
    def active(self) -> list[dict[str, Any]]: ...
    def events_since(self, since: float) -> list[dict[str, Any]]: ...
    def feed(self) -> list[dict[str, Any]]: ...
    def check_fault(self, body: Any) -> Any:
        """Validation only (any thread): raises InputError; returns what ``apply`` takes."""
        ...
    def apply(self, checked: Any, client: str) -> Answer:  # loop
        ...
    def remove(self, name: str, client: str) -> Answer:  # loop
        ...
    def start_timeline(self, client: str) -> Answer:  # loop
        ...
    def request_stop(self, client: str) -> Answer: ...


class Commands:
    """Work handed from the server's threads to the main loop, each with a future for its answer."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], Answer], Future[Answer]]] = queue.Queue()

    def call(self, fn: Callable[[], Answer], timeout: float = COMMAND_TIMEOUT_S) -> Answer:
        future: Future[Answer] = Future()
        self._queue.put((fn, future))
        try:
            return future.result(timeout)
        except FutureTimeout:
            return Answer(503, {"error": "the session did not carry this out in time (is it ending?)"})

    def run_pending(self) -> None:
        """On the main loop: carry out what the threads asked for."""
        while True:
            try:
                fn, future = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                future.set_result(fn())
            except Exception as exc:  # noqa: BLE001 - a failed command answers 500; the session goes on
                future.set_result(Answer(500, {"error": f"{type(exc).__name__}: {exc}"}))

    def refuse_pending(self, reason: str) -> None:
        """The session is ending: whoever still waits gets an answer at once."""
        while True:
            try:
                _, future = self._queue.get_nowait()
            except queue.Empty:
                return
            future.set_result(Answer(503, {"error": reason}))


class ControlServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 (port chosen by the system) serving the Chaos API."""

    def __init__(self, api: ChaosApi, commands: Commands, host: str = "127.0.0.1", port: int = 0):
        self.api, self.commands = api, commands
        handler = type("Handler", (_Handler,), {"control": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="chaos-control", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any, client: str) -> Answer:
        api = self.api
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:1] != ["chaos"]:
            return Answer(404, {"error": f"no such path: {path}"})
        rest = parts[1:]
        if method == "GET" and rest == ["system"]:
            return Answer(200, api.system())
        if method == "GET" and rest == ["faults"]:
            return Answer(200, api.active())
        if method == "GET" and rest == ["feed"]:
            return Answer(200, api.feed())
        if method == "GET" and rest == ["events"]:
            try:
                since = float(query.get("since", ["0"])[0])
            except ValueError:
                return Answer(400, {"error": "since: a time in epoch seconds, like 1764560000.5"})
            return Answer(200, api.events_since(since))
        if method == "POST" and rest == ["faults"]:
            try:
                checked = api.check_fault(body)
            except InputError as exc:
                return Answer(400, {"error": exc.render()})
            return self.commands.call(lambda: api.apply(checked, client))
        if method == "DELETE" and len(rest) == 2 and rest[0] == "faults":
            name = rest[1]
            return self.commands.call(lambda: api.remove(name, client))
        if method == "POST" and rest == ["timeline"]:
            return self.commands.call(lambda: api.start_timeline(client))
        if method == "POST" and rest == ["stop"]:
            return api.request_stop(client)
        return Answer(404 if method in ("GET", "POST", "DELETE") else 405, {"error": f"no route {method} {path}"})


class _Handler(BaseHTTPRequestHandler):
    control: ControlServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # the journal records what matters; no console noise

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        body: Any = None
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(Answer(413, {"error": f"a body of at most {MAX_BODY} bytes"}))
            return
        if length:
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError as exc:
                self._answer(Answer(400, {"error": f"{SOURCE_BODY}: not JSON ({exc})"}))
                return
        client = self.headers.get("X-Chaos-Client") or "api"
        try:
            answer = self.control.route(method, url.path, parse_qs(url.query), body, client)
        except Exception as exc:  # noqa: BLE001 - a bug answers 500 instead of killing the thread silently
            answer = Answer(500, {"error": f"{type(exc).__name__}: {exc}"})
        self._answer(answer)

    def _answer(self, answer: Answer) -> None:
        data = json.dumps(answer.body, default=str).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")


SOURCE_BODY = "the request body"
