"""SIGINT and SIGTERM become ``RunInterrupted`` in the main thread, so ``finally`` heals.

While cleanup runs, further signals are noted but do not cut it short: a second Ctrl-C
must not leave a toxic or a process behind.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

from .errors import RunInterrupted


class InterruptGuard:
    def __init__(self, notice: Callable[[str], None] = lambda m: None):
        self.notice = notice
        self.shielded = False
        self.received: str | None = None

    def _handler(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.shielded:
            self.notice(f"{name} received during cleanup; finishing cleanup first")
            return
        self.received = name
        raise RunInterrupted(name)

    @contextlib.contextmanager
    def installed(self) -> Iterator["InterruptGuard"]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals only reach the main thread; nothing to install
            return
        previous = {s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    @contextlib.contextmanager
    def shield(self) -> Iterator[None]:
        self.shielded = True
        try:
            yield
        finally:
            self.shielded = False
