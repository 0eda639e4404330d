"""SIGINT and SIGTERM during a run: heal and stop first, then end with status ``interrupted``.

    first signal, while the run works (setup, load, faults)
        -> ``RunInterrupted`` in the main thread: the runner's ``finally`` heals and stops.
    first signal, while the run cleans up or reports (``shield()``)
        -> noted, not raised: the step under way finishes, the run still ends ``interrupted`` (130).
    second signal, at any time
        -> ``ForcedExit`` (once): the runner switches to its fast path, which still heals the
           faults first, then SIGKILLs what is left instead of waiting for graceful stops.
    later signals -> noted only: the fast path is already as fast as it is safe to be.

The handler raises only where the runner is ready to catch (``raising``), and switches that
off itself when it raises: the runner's glue between "the story ended" and "the clean-up
started" (its except and finally clauses) is never cut by a signal, so nothing can skip the
clean-up. A signal there is noted and takes effect at the next checkpoint.

The handler never writes to the console itself: a signal can land while the main thread is
inside a write to the same stream, where Python raises "reentrant call". Notices wait in
``pending`` until the runner calls ``take_notices()`` at a safe point.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Iterator

from .errors import ForcedExit, RunInterrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class InterruptGuard:
    def __init__(self, ignore_after: bool = False) -> None:
        self.ignore_after = ignore_after
        """When the run is over, ignore SIGINT/SIGTERM instead of restoring the previous handlers: for
        the CLI, whose process only prints the verdict and exits with the code the files hold."""
        self.shielded = False
        self.received: str | None = None
        """The first signal's name, once one came: the run's status will be ``interrupted``."""
        self.forced = False
        """A second signal came: skip graceful waits, kill, report, exit."""
        self.raising = False
        """The main thread is in a region that catches RunInterrupted / ForcedExit."""
        self.frozen = False
        """The reports are written: a signal now changes nothing (the files and exit code agree)."""
        self.pending: list[str] = []

    @property
    def interrupted(self) -> bool:
        return self.received is not None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.frozen:
            self.pending.append(f"{name} received after the run had finished and written its reports")
            return
        if self.received is None:
            self.received = name
            if self.raising and not self.shielded:
                self.raising = False
                raise RunInterrupted(name)
            self.pending.append(f"{name} received: finishing the clean-up under way, then exiting 130 "
                                "(send it again to skip graceful stops)")
            return
        if not self.forced:
            self.forced = True
            self.pending.append(f"second signal ({name}): fast exit; faults are still healed first")
            if self.raising:
                self.raising = False
                raise ForcedExit(name)
            return
        self.pending.append(f"{name} received again: already exiting as fast as is safe")

    def take_notices(self) -> list[str]:
        notes, self.pending = self.pending, []
        return notes

    @contextlib.contextmanager
    def installed(self) -> Iterator[InterruptGuard]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals only reach the main thread; nothing to install
            return
        previous = {s: signal.signal(s, self._handler) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, signal.SIG_IGN if self.ignore_after else h)

    @contextlib.contextmanager
    def shield(self) -> Iterator[None]:
        """Clean-up and reporting: a first signal is noted, not raised (a second still forces)."""
        was, self.shielded = self.shielded, True
        try:
            yield
        finally:
            self.shielded = was
