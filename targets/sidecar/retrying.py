"""Retries with a per-try timeout, exponential backoff with full jitter, and a total budget.

Why our own and not a library: the sidecar needs the *budget* to cut a try that is still in
flight (a try gets ``min(try_timeout, budget left)``), and to skip a backoff that would end
past the budget. Retry libraries stop scheduling new tries at a deadline but let the current
one run on. Clock, sleep and randomness are injectable so the timing is testable.

    policy = RetryPolicy(attempts=4, try_timeout=0.25, budget=1.0)
    result, tries = await call_with_retries(lambda: client.get(url), policy, retry_on=is_transient)

``retry_on(outcome)`` decides for a returned value (e.g. an HTTP 503) and for an exception;
a timeout of a try is always retried. When the tries run out on a retryable *value*, that
value is returned (the caller relays the upstream's own answer); when they run out on an
error or a timeout, ``GaveUp`` says why.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Tries in all, the first included; 1 means no retries."""
    try_timeout: float | None = 0.25
    """Seconds one try may take; None waits as long as the upstream takes."""
    budget: float | None = 1.0
    """Seconds for the whole call, tries and backoff together; None means no overall deadline."""
    backoff_base: float = 0.02
    backoff_max: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        for name in ("try_timeout", "budget"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive (or None for no limit)")
        if self.backoff_base < 0 or self.backoff_max < self.backoff_base:
            raise ValueError("need 0 <= backoff_base <= backoff_max")

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(retry-1))], so retries of many callers spread out."""
        return rand() * min(self.backoff_max, self.backoff_base * 2 ** (retry - 1))


class GaveUp(Exception):
    """Every try failed (or the budget ran out); ``reason`` is "timeout", "error" or "budget"."""

    def __init__(self, reason: str, attempts: int, last: BaseException | None):
        self.reason, self.attempts, self.last = reason, attempts, last
        detail = f": {type(last).__name__}: {last}" if last is not None else ""
        super().__init__(f"gave up after {attempts} tr{'y' if attempts == 1 else 'ies'} ({reason}){detail}")


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    retry_on: Callable[[object], bool],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    on_retry: Callable[[int, object], None] | None = None,
) -> tuple[T, int]:
    """Call ``fn`` until it returns a value that is not retryable; return (value, tries made)."""
    started = clock()
    last_error: BaseException | None = None
    tries = 0
    while True:
        left = None if policy.budget is None else policy.budget - (clock() - started)
        if left is not None and left <= 0:
            raise GaveUp("budget", tries, last_error)
        limit = _min(policy.try_timeout, left)
        tries += 1
        got_value = False
        outcome: object
        try:
            async with asyncio.timeout(limit):
                value = await fn()
        except TimeoutError as exc:
            # Budget or try timeout: either way this try is over, and it may be retried.
            outcome, last_error = exc, exc
            reason = "budget" if left is not None and limit == left else "timeout"
        except Exception as exc:
            if not retry_on(exc):
                raise
            outcome, last_error, reason = exc, exc, "error"
        else:
            if not retry_on(value):
                return value, tries
            outcome, got_value, reason = value, True, "error"
        delay = policy.backoff(tries, rand) if tries < policy.attempts else 0.0
        if tries < policy.attempts and policy.budget is not None and clock() - started + delay >= policy.budget:
            reason = "budget"  # no time left for another try worth making
        elif tries < policy.attempts:
            if on_retry is not None:
                on_retry(tries, outcome)
            await sleep(delay)
            continue
        if got_value:
            return value, tries  # the upstream's own (retryable) answer is the best there is
        raise GaveUp(reason, tries, last_error)


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
