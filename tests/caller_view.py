"""What a caller sees when it connects to an address and asks for something, in one word.

The death-mode tests compare it across runtimes: locally it runs in the test process; for
containers its source runs (``python -c``) inside the calling service's container.
"""
from __future__ import annotations

import inspect
from pathlib import Path

SYSTEM = """\
name: deadness
locustfile: locustfile.py
entry: front
services:
  back:
    command: ["{python}", "-m", "http.server", "{port}", "--bind", "{host}"]
    health: {type: tcp}
  front:
    command: ["{python}", "-m", "http.server", "{port}", "--bind", "{host}"]
    health: {type: tcp}
    upstreams:
      - {service: back, env: BACK_URL}
"""


def write_system(directory: Path) -> Path:
    """front -> back, two plain HTTP servers: what front would see of back is what the tests probe."""
    (directory / "locustfile.py").write_text("from locust import HttpUser\n")
    (directory / "system.yaml").write_text(SYSTEM)
    return directory / "system.yaml"


def caller_sees(host: str, port: int, timeout: float = 1.0) -> str:
    """refused | connect hangs | closed (accepted, then closed unanswered) | no answer | answered"""
    import socket

    s = socket.socket()
    s.settimeout(timeout)
    try:
        try:
            s.connect((host, port))
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "connect hangs"
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            data = s.recv(64)
        except TimeoutError:
            return "no answer"
        except ConnectionResetError:
            return "closed"
        return "answered" if data else "closed"
    finally:
        s.close()


def probe_source(host: str, port: int, timeout: float = 1.0) -> str:
    """Python source that prints ``caller_sees(host, port, timeout)``."""
    return inspect.getsource(caller_sees) + f"\nprint(caller_sees({host!r}, {port}, {timeout}))\n"
