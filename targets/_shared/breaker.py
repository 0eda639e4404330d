"""A small asyncio circuit breaker: closed -> open -> half_open -> closed.

Why our own: pybreaker does not count failures of ``async def`` calls, and the
harness needs a breaker whose every transition is observable (a listener) and
whose timing is testable without sleeping (an injectable clock).

Semantics
- closed: calls pass through. ``failure_threshold`` consecutive failures open it;
  a success resets the count.
- open: calls fail fast with ``BreakerOpen`` and the wrapped function is not called,
  until ``reset_timeout`` seconds have passed since the breaker opened.
- half_open: up to ``half_open_max_calls`` probe calls may be in flight at once;
  other calls fail fast. A probe success closes the breaker, a probe failure opens
  it again (and restarts the reset timer).

A failure is any ``Exception`` raised by the wrapped call (the caller turns timeouts
and 5xx answers into exceptions). ``BaseException``s such as ``CancelledError`` are
neither success nor failure: a cancelled request says nothing about the upstream.

All bookkeeping runs between awaits on one event loop, so no lock is needed.
"""
from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)

Listener = Callable[[str, str], None]  # (previous, new)

log = logging.getLogger(__name__)


class BreakerOpen(Exception):
    """Raised instead of calling the protected function."""

    def __init__(self, name: str, retry_after: float):
        self.name, self.retry_after = name, retry_after
        super().__init__(f"circuit breaker '{name}' is open (retry in {retry_after:.2f}s)")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout: float = 2.0,
        half_open_max_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must be >= 0")
        if half_open_max_calls < 1:
            raise ValueError("half_open_max_calls must be >= 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._listeners: list[Listener] = []
        self._state = CLOSED
        self._failures = 0  # consecutive failures while closed
        self._opened_at = 0.0
        self._probes = 0  # probe calls in flight while half_open
        # Bumped on every transition. A call's outcome only counts if the breaker is
        # still in the generation that admitted it: a slow call started while closed
        # must not re-open (or close) a breaker that has moved on since.
        self._generation = 0

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> str:
        # open -> half_open is time-driven; it is observed lazily, so no timer task
        # is needed and a fake clock drives it in tests.
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._transition(HALF_OPEN)
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    async def call(self, fn: Callable[..., Awaitable[T]], *args, **kwargs) -> T:
        state = self.state
        if state == OPEN:
            raise BreakerOpen(self.name, self._opened_at + self.reset_timeout - self._clock())
        if state == HALF_OPEN:
            if self._probes >= self.half_open_max_calls:
                raise BreakerOpen(self.name, 0.0)
            self._probes += 1
        generation = self._generation
        try:
            result = await fn(*args, **kwargs)
        except Exception:
            self._on_outcome(generation, ok=False)
            raise
        finally:
            if state == HALF_OPEN and generation == self._generation:
                self._probes -= 1  # always free the slot, cancelled or not
        self._on_outcome(generation, ok=True)
        return result

    def _on_outcome(self, generation: int, ok: bool) -> None:
        if generation != self._generation:
            return  # stale: admitted before the last transition
        if self._state == HALF_OPEN:
            self._transition(CLOSED if ok else OPEN)
        elif ok:
            self._failures = 0
        else:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._transition(OPEN)

    def _transition(self, new: str) -> None:
        previous, self._state = self._state, new
        self._generation += 1
        self._failures = 0
        self._probes = 0
        if new == OPEN:
            self._opened_at = self._clock()
        for listener in self._listeners:
            try:
                listener(previous, new)
            except Exception:
                # A broken metrics/log hook must not wedge the breaker mid-transition.
                log.exception("circuit breaker '%s' listener failed", self.name)
