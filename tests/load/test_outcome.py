"""How a request's outcome is classified: ok, fail (it certainly did not happen or failed), or
info (the client cannot know: the server may have acted). Runs in a subprocess because
importing the module imports Locust, which patches the process with gevent."""
from __future__ import annotations

import subprocess
import sys

CODE = r'''
import socket
from harness.load.locust_process import outcome_of

class Wrapped(Exception):
    def __init__(self, original):
        super().__init__("RetriesExceeded")
        self.original = original

cases = {
    "none": outcome_of(None),
    "refused": outcome_of(ConnectionRefusedError(111, "Connection refused")),
    "reset": outcome_of(ConnectionResetError(104, "Connection reset by peer")),
    "broken pipe": outcome_of(BrokenPipeError(32, "Broken pipe")),
    "timeout": outcome_of(socket.timeout("timed out")),
    "wrapped timeout": outcome_of(Wrapped(socket.timeout("timed out"))),
    "http 500": outcome_of(Exception("HTTP 500")),
}
print(repr(cases))
'''


def test_outcomes_follow_what_the_client_can_know() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cases = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own repr of a dict of str
    assert cases == {"none": "ok", "refused": "fail", "reset": "info", "broken pipe": "info", "timeout": "info",
                     "wrapped timeout": "info", "http 500": "fail"}
