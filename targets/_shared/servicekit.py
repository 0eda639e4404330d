"""What every reference target service shares: env config, events, /health, /metrics, serve().

The harness engine puts this directory on PYTHONPATH and reads each service's stdout:
a line starting with ``@harness-event `` followed by compact JSON is a target event that
goes into the run's journal (e.g. a breaker state change). Everything else on stdout is
ordinary log output.
"""
from __future__ import annotations

import json
import os
import sys
import time

import prometheus_client
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

EVENT_PREFIX = "@harness-event "

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def emit_event(type: str, **fields) -> None:
    """Print one event line to stdout, flushed at once so the harness sees it in time."""
    if "t" in fields:
        raise ValueError("'t' is reserved for the event timestamp")
    event = {"t": time.time(), "type": type, **fields}
    line = EVENT_PREFIX + json.dumps(event, separators=(",", ":"), default=str)
    # One write of the whole line: a service never interleaves half an event.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    # Fail at startup: a misspelt switch silently read as the default would make a
    # defect run measure the sound system.
    raise ValueError(f"{name}={raw!r} is not a boolean (use true/false)")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def health_route(service: str, path: str = "/health") -> Route:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": service})

    return Route(path, health, methods=["GET"])


def metrics_route(path: str = "/metrics") -> Route:
    # A plain route, not Mount(make_asgi_app()): the mount redirects /metrics -> /metrics/ (307).
    async def metrics(request: Request) -> Response:
        return Response(prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    return Route(path, metrics, methods=["GET"])


def serve(app, default_port: int) -> None:
    """Run the app on HOST/PORT; the harness chooses the port, the default is for humans."""
    import uvicorn

    host = os.environ.get("HOST", "127.0.0.1")
    port = env_int("PORT", default_port)
    # access_log off: stdout carries events, not one line per request.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
