"""The sidecar's retry policy: per-try timeout, backoff with full jitter, total budget."""
from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from pathlib import Path

import pytest

# Loaded by path under a unique name: other targets may have a module called `retrying` too.
_PATH = Path(__file__).resolve().parents[2] / "targets" / "sidecar" / "retrying.py"
_spec = importlib.util.spec_from_file_location("sidecar_retrying", _PATH)
assert _spec is not None and _spec.loader is not None
retrying = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = retrying
_spec.loader.exec_module(retrying)
GaveUp, RetryPolicy, call_with_retries = retrying.GaveUp, retrying.RetryPolicy, retrying.call_with_retries


class Transient(Exception):
    pass


class Fatal(Exception):
    pass


def retry_on(outcome: object) -> bool:
    return isinstance(outcome, Transient) or outcome == 503


class Script:
    """A callable that plays outcomes in order: an exception is raised, a float sleeps then answers 200."""

    def __init__(self, *outcomes: object):
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        item = self.outcomes.pop(0) if self.outcomes else 200
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, float):
            await asyncio.sleep(item)
            return 200
        return item


def run(fn: Script, policy: RetryPolicy, **kw: object) -> tuple[object, int]:
    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    kw.setdefault("sleep", fake_sleep)
    result = asyncio.run(call_with_retries(fn, policy, retry_on, **kw))  # type: ignore[arg-type]
    run.sleeps = sleeps  # type: ignore[attr-defined]
    return result


def test_a_first_success_is_one_try() -> None:
    assert run(Script(200), RetryPolicy()) == (200, 1)


def test_transient_errors_are_retried_until_a_success() -> None:
    fn = Script(Transient("reset"), Transient("reset"), 200)
    assert run(fn, RetryPolicy(attempts=4)) == (200, 3)
    assert fn.calls == 3


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    fn = Script(Transient(), Transient(), Transient(), 200)
    run(fn, RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.03, budget=None), rand=lambda: 1.0)
    assert run.sleeps == [0.01, 0.02, 0.03]  # type: ignore[attr-defined]
    run(Script(Transient(), 200), RetryPolicy(budget=None), rand=lambda: 0.0)
    assert run.sleeps == [0.0]  # type: ignore[attr-defined]


def test_a_non_retryable_error_propagates_at_once() -> None:
    fn = Script(Fatal("bad request"))
    with pytest.raises(Fatal):
        run(fn, RetryPolicy(attempts=4))
    assert fn.calls == 1


def test_running_out_of_tries_on_errors_gives_up_with_the_last_error() -> None:
    with pytest.raises(GaveUp) as info:
        run(Script(Transient("a"), Transient("b"), Transient("c")), RetryPolicy(attempts=3))
    assert info.value.reason == "error" and info.value.attempts == 3 and str(info.value.last) == "c"
    assert "gave up after 3 tries (error): Transient: c" == str(info.value)


def test_running_out_of_tries_on_a_retryable_answer_returns_that_answer() -> None:
    assert run(Script(503, 503), RetryPolicy(attempts=2)) == (503, 2)


def test_one_attempt_means_no_retry() -> None:
    fn = Script(Transient("reset"), 200)
    with pytest.raises(GaveUp) as info:
        run(fn, RetryPolicy(attempts=1))
    assert fn.calls == 1 and info.value.attempts == 1


def test_a_hanging_try_is_cut_at_the_try_timeout_and_retried() -> None:
    fn = Script(10.0, 200)
    began = time.monotonic()
    assert run(fn, RetryPolicy(attempts=3, try_timeout=0.05, budget=None), sleep=asyncio.sleep) == (200, 2)
    assert time.monotonic() - began < 1.0


def test_the_budget_cuts_a_try_in_flight() -> None:
    began = time.monotonic()
    with pytest.raises(GaveUp) as info:
        run(Script(10.0), RetryPolicy(attempts=4, try_timeout=None, budget=0.1), sleep=asyncio.sleep)
    took = time.monotonic() - began
    assert info.value.reason == "budget" and info.value.attempts == 1
    assert 0.09 <= took < 1.0


def test_only_timeouts_is_reported_as_timeout() -> None:
    with pytest.raises(GaveUp) as info:
        run(Script(10.0, 10.0), RetryPolicy(attempts=2, try_timeout=0.02, budget=5.0), sleep=asyncio.sleep)
    assert info.value.reason == "timeout" and info.value.attempts == 2


def test_no_backoff_is_slept_past_the_budget() -> None:
    now = [0.0]
    fn = Script(Transient(), 200)

    async def tick() -> object:
        now[0] += 0.95  # the first try eats almost all of the 1 s budget
        return await fn()

    with pytest.raises(GaveUp) as info:
        asyncio.run(call_with_retries(tick, RetryPolicy(attempts=4, budget=1.0, backoff_base=0.1), retry_on,
                                      clock=lambda: now[0], rand=lambda: 1.0))
    assert info.value.reason == "budget" and fn.calls == 1


def test_without_timeouts_a_slow_try_is_awaited() -> None:
    assert run(Script(0.2), RetryPolicy(try_timeout=None, budget=None), sleep=asyncio.sleep) == (200, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"attempts": 0}, "attempts must be >= 1"),
    ({"try_timeout": 0}, "try_timeout must be positive"),
    ({"budget": -1}, "budget must be positive"),
    ({"backoff_base": 0.5, "backoff_max": 0.1}, "backoff_base <= backoff_max"),
])
def test_a_nonsensical_policy_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
