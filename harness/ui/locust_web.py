"""The Locust process of ``harness ui``: Locust's own web UI, with a Chaos tab, recording every request.

    python -m harness.ui.locust_web --locustfile F --host URL --web-port N --control URL --out O ...

Like ``harness.load.locust_process`` (whose locustfile loading and request recording it reuses),
this module imports Locust and so runs only as a process of its own (gevent patches it). It is a
plain Locust web UI (``Environment.create_web_ui``), extended the ways Locust documents
(``examples/extend_web_ui.py``): routes on its Flask app, and the ``extended_tabs`` /
``extended_tables`` template arguments with rows sent as ``extended_stats`` in ``/stats/requests``.

The harness process (deployment, Toxiproxy, fault registry, journal) stays out of this one: every
``/chaos/*`` request on the web port is forwarded to the harness's control server on loopback
(``--control``), which validates, applies and journals. The tab's form is drawn by ``chaos.js``
(loaded into Locust's page by an ``after_request`` hook) from ``GET /chaos/system``: the fault
types' JSON Schemas, so a new fault type appears without UI work.

Records in ``--out`` (besides the requests): ``load_started`` once the web UI listens (the
session's clock starts there), ``swarm_started`` / ``swarm_stopped`` as people press Start and
Stop, ``load_stopped`` on SIGTERM.
"""
from __future__ import annotations

# First import on purpose: gevent patches this process before anything else opens a socket.
import locust  # noqa: I001
import locust.env
import locust.log
import locust.runners
from locust.argument_parser import get_parser

import argparse
import logging
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import requests
from flask import Blueprint, Response, request
from werkzeug.datastructures import ImmutableMultiDict

from harness.load.locust_process import (
    EXIT_USAGE,
    RecordWriter,
    UsageError,
    import_locustfile,
    select_user_classes,
    wait_for_workers,
)

STATIC = Path(__file__).parent / "static"
TAB_KEY = "chaos"
FORWARD_TIMEOUT_S = 35.0
"""Longer than the harness takes to apply a fault (its own wait is 30 s): its answer, not ours, decides."""
FEED_TIMEOUT_S = 1.0

logger = logging.getLogger("harness.ui")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m harness.ui.locust_web", description=__doc__.split("\n")[0])
    p.add_argument("--locustfile", required=True, type=Path)
    p.add_argument("--host", required=True, help="the entry service's base URL")
    p.add_argument("--users", type=int, default=10, help="the form's default number of users")
    p.add_argument("--spawn-rate", type=float, default=10.0, help="the form's default spawn rate")
    p.add_argument("--user-class", action="append", default=[], dest="user_classes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="this process's request file")
    p.add_argument("--record-bodies", type=int, default=0)
    p.add_argument("--web-host", default="127.0.0.1")
    p.add_argument("--web-port", type=int, default=8089)
    p.add_argument("--control", required=True, help="base URL of the harness's control server (loopback)")
    p.add_argument("--workers", type=int, default=0, help="be Locust's master for N workers (they make the requests)")
    p.add_argument("--master-bind-host", default="127.0.0.1")
    p.add_argument("--master-bind-port", type=int, default=5557)
    return p.parse_args(argv)


def install_chaos_tab(environment: Any, control: str, entry: str) -> None:
    """The Chaos tab and the ``/chaos/*`` API on Locust's own Flask app (before the UI listens)."""
    web_ui = environment.web_ui
    app = web_ui.app
    web_ui.template_args["extended_tabs"] = [{"title": "Chaos", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": [
        {"key": "time", "title": "Time"}, {"key": "what", "title": "What"}, {"key": "detail", "title": "Detail"}]}]
    session = requests.Session()
    session.trust_env = False  # loopback: never through a proxy from the environment

    chaos = Blueprint("chaos", __name__, static_folder=str(STATIC), static_url_path="/chaos-ui")

    @chaos.route("/chaos/<path:rest>", methods=["GET", "POST", "DELETE"])
    def forward(rest: str) -> Response:
        try:
            answer = session.request(request.method, f"{control}/chaos/{rest}", params=request.args.to_dict(flat=False),
                                     data=request.get_data(), timeout=FORWARD_TIMEOUT_S,
                                     headers={"Content-Type": request.headers.get("Content-Type", "application/json"),
                                              # who applied a fault, for the journal: the tab says "ui"
                                              "X-Chaos-Client": request.headers.get("X-Chaos-Client", "api")})
        except requests.RequestException as exc:
            return Response(f'{{"error": "the harness process does not answer: {type(exc).__name__}"}}', status=502,
                            mimetype="application/json")
        return Response(answer.content, status=answer.status_code,
                        mimetype=answer.headers.get("Content-Type", "application/json"))

    @app.before_request
    def keep_host() -> None:
        # An empty Host in the swarm form would leave users with no base URL: the entry service it is.
        if request.path == "/swarm" and request.method == "POST" and not request.form.get("host", "").strip():
            form = request.form.copy()
            form["host"] = entry
            request.form = ImmutableMultiDict(form)

    @app.after_request
    def extend(response: Response) -> Response:
        if request.path == "/stats/requests" and response.is_json:
            body = response.get_json()
            body["extended_stats"] = [{"key": TAB_KEY, "data": _feed(session, control)}]
            response.set_data(app.json.dumps(body))
        elif request.path == "/" and response.mimetype == "text/html":
            # Locust's page has no slot for scripts; the tab's form is drawn by this one.
            page = response.get_data(as_text=True)
            tag = '<link rel="stylesheet" href="/chaos-ui/chaos.css"><script src="/chaos-ui/chaos.js"></script>'
            response.set_data(page.replace("</body>", tag + "</body>", 1))
        return response

    app.register_blueprint(chaos)


def _feed(session: requests.Session, control: str) -> list[dict[str, Any]]:
    """The tab's live table: active faults, then the latest events (from the harness)."""
    try:
        rows = session.get(f"{control}/chaos/feed", timeout=FEED_TIMEOUT_S).json()
        return list(rows) if isinstance(rows, list) else []
    except (requests.RequestException, ValueError) as exc:
        return [{"time": "", "what": "harness unreachable", "detail": type(exc).__name__}]


def run(args: argparse.Namespace) -> int:
    locust.log.setup_logging("INFO")
    try:
        user_classes = select_user_classes(import_locustfile(args.locustfile), args.locustfile, args.user_classes)
    except UsageError as exc:
        print(f"harness.ui.locust_web: {exc}", file=sys.stderr)
        return EXIT_USAGE
    random.seed(args.seed)
    # Locust's web UI reads its extra options from sys.argv: it must see Locust options, not ours.
    sys.argv = [sys.argv[0]]
    options = get_parser().parse_args(["--host", args.host, "--users", str(args.users),
                                       "--spawn-rate", repr(float(args.spawn_rate))])
    env = locust.env.Environment(user_classes=user_classes, host=args.host, events=locust.events,
                                 parsed_options=options, locustfile=str(args.locustfile))
    runner: locust.runners.Runner
    if args.workers:
        runner = env.create_master_runner(master_bind_host=args.master_bind_host, master_bind_port=args.master_bind_port)
    else:
        runner = env.create_local_runner()
    env.create_web_ui(host=args.web_host, port=args.web_port, delayed_start=True)
    env.events.init.fire(environment=env, runner=runner, web_ui=env.web_ui)
    install_chaos_tab(env, args.control.rstrip("/"), args.host)

    writer = RecordWriter(args.out, record_bodies=args.record_bodies)
    env.events.request.add_listener(writer.on_request)

    def swarm_started(**_: Any) -> None:
        writer.write("swarm_started", users=env.runner.target_user_count if env.runner else None)

    def swarm_stopped(**_: Any) -> None:
        writer.write("swarm_stopped")

    env.events.test_start.add_listener(swarm_started)
    env.events.test_stop.add_listener(swarm_stopped)

    stop_requested = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop_requested.set)

    writer.start_flushing()
    try:
        assert env.web_ui is not None
        env.web_ui.start()
        gevent.sleep(0.2)  # the server greenlet binds the port
        if env.web_ui.greenlet is not None and env.web_ui.greenlet.dead:
            print(f"harness.ui.locust_web: the web UI could not listen on {args.web_host}:{args.web_port}",
                  file=sys.stderr)
            return 3
        if args.workers and not wait_for_workers(runner, args.workers, 60.0, stop_requested):
            print(f"harness.ui.locust_web: {runner.worker_count} of {args.workers} worker(s) connected within 60s",
                  file=sys.stderr)
            return 3
        writer.write("load_started", web=f"http://{args.web_host}:{args.web_port}/", users=0, workers=args.workers)
        stop_requested.wait()
        totals: dict[str, Any] = {}
        if args.workers:
            # load_stopped keeps the time load stopped, not the time the totals were complete.
            runner.stop()  # the workers' last statistics reach the master within one report interval
            stopped_at = time.time()
            gevent.sleep(locust.runners.WORKER_REPORT_INTERVAL + 1.0)
            totals = {"t": stopped_at, "locust_requests": env.stats.total.num_requests,
                      "locust_failures": env.stats.total.num_failures}
        runner.quit()
        writer.write("load_stopped", **totals)
    finally:
        writer.close()
        if env.web_ui is not None:
            env.web_ui.stop()
    env.events.quitting.fire(environment=env, reverse=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
