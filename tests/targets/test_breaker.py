"""The breaker state machine, driven by a fake clock: no sleeping."""
import asyncio

import pytest

from breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, CircuitBreaker


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class Upstream:
    """A protected function whose outcome the test chooses, counting calls."""

    def __init__(self):
        self.calls = 0

    async def ok(self):
        self.calls += 1
        return "ok"

    async def fail(self):
        self.calls += 1
        raise ConnectionError("down")


def make(clock, **kw):
    kw.setdefault("failure_threshold", 3)
    kw.setdefault("reset_timeout", 2.0)
    b = CircuitBreaker("payments", clock=clock, **kw)
    seen = []
    b.add_listener(lambda prev, new: seen.append((prev, new)))
    return b, seen


def run(coro):
    return asyncio.run(coro)


async def fail_n(b, up, n):
    for _ in range(n):
        with pytest.raises(ConnectionError):
            await b.call(up.fail)


async def trip(b, up):
    await fail_n(b, up, b.failure_threshold)
    assert b.state == OPEN


def test_starts_closed_and_passes_results_through():
    b, seen = make(FakeClock())
    assert b.state == CLOSED
    assert run(b.call(Upstream().ok)) == "ok"
    assert seen == []


def test_opens_after_threshold_consecutive_failures():
    clock, up = FakeClock(), Upstream()
    b, seen = make(clock)

    async def scenario():
        await fail_n(b, up, 2)
        assert b.state == CLOSED and b.failures == 2
        await fail_n(b, up, 1)
        assert b.state == OPEN

    run(scenario())
    assert seen == [(CLOSED, OPEN)]


def test_success_resets_the_failure_count():
    up = Upstream()
    b, seen = make(FakeClock())

    async def scenario():
        await fail_n(b, up, 2)
        await b.call(up.ok)
        assert b.failures == 0
        await fail_n(b, up, 2)  # 2 + 2 failures, but not consecutive
        assert b.state == CLOSED

    run(scenario())
    assert seen == []


def test_open_fails_fast_without_calling():
    clock, up = FakeClock(), Upstream()
    b, _ = make(clock)

    async def scenario():
        await trip(b, up)
        calls = up.calls
        clock.advance(0.5)
        with pytest.raises(BreakerOpen) as err:
            await b.call(up.ok)
        assert up.calls == calls
        assert err.value.retry_after == pytest.approx(1.5)

    run(scenario())


def test_half_open_after_reset_timeout_then_probe_success_closes():
    clock, up = FakeClock(), Upstream()
    b, seen = make(clock)

    async def scenario():
        await trip(b, up)
        clock.advance(1.999)
        assert b.state == OPEN
        clock.advance(0.001)
        assert b.state == HALF_OPEN
        assert await b.call(up.ok) == "ok"
        assert b.state == CLOSED and b.failures == 0

    run(scenario())
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_probe_failure_reopens_and_restarts_the_timer():
    clock, up = FakeClock(), Upstream()
    b, seen = make(clock)

    async def scenario():
        await trip(b, up)
        clock.advance(2.0)
        await fail_n(b, up, 1)  # one probe failure is enough, not a full threshold
        assert b.state == OPEN
        clock.advance(1.9)
        assert b.state == OPEN  # timer counts from the re-open, not the first open
        clock.advance(0.1)
        assert b.state == HALF_OPEN

    run(scenario())
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, OPEN), (OPEN, HALF_OPEN)]


@pytest.mark.parametrize("max_calls", [1, 2])
def test_half_open_limits_concurrent_probes(max_calls):
    clock, up = FakeClock(), Upstream()
    b, seen = make(clock, half_open_max_calls=max_calls)

    async def scenario():
        release = asyncio.Event()

        async def slow_ok():
            await release.wait()
            return "ok"

        await trip(b, up)
        clock.advance(2.0)
        probes = [asyncio.create_task(b.call(slow_ok)) for _ in range(max_calls)]
        await asyncio.sleep(0)  # let the probes be admitted
        calls = up.calls
        with pytest.raises(BreakerOpen):
            await b.call(up.ok)  # one more than the limit
        assert up.calls == calls
        release.set()
        assert await asyncio.gather(*probes) == ["ok"] * max_calls
        assert b.state == CLOSED

    run(scenario())
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_cancelled_probe_frees_its_slot_and_counts_as_nothing():
    clock, up = FakeClock(), Upstream()
    b, seen = make(clock)

    async def scenario():
        await trip(b, up)
        clock.advance(2.0)
        probe = asyncio.create_task(b.call(asyncio.sleep, 3600))
        await asyncio.sleep(0)
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        assert b.state == HALF_OPEN
        assert await b.call(up.ok) == "ok"  # the slot is free again
        assert b.state == CLOSED

    run(scenario())
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_stale_outcomes_from_before_a_transition_are_ignored():
    """Slow calls admitted while closed must not re-open or close the breaker later."""
    clock, up = FakeClock(), Upstream()
    b, seen = make(clock)

    async def scenario():
        release = asyncio.Event()

        async def slow(ok):
            await release.wait()
            if not ok:
                raise ConnectionError("late failure")
            return "late ok"

        stale = [asyncio.create_task(b.call(slow, ok)) for ok in (False, True)]
        await asyncio.sleep(0)
        await trip(b, up)
        clock.advance(2.0)
        assert b.state == HALF_OPEN
        release.set()
        results = await asyncio.gather(*stale, return_exceptions=True)
        assert isinstance(results[0], ConnectionError) and results[1] == "late ok"
        assert b.state == HALF_OPEN  # neither the late failure nor the late success counted

    run(scenario())
    assert seen == [(CLOSED, OPEN), (OPEN, HALF_OPEN)]


def test_a_failing_listener_does_not_break_the_breaker(caplog):
    clock, up = FakeClock(), Upstream()
    b, seen = make(clock)

    def broken(prev, new):
        raise RuntimeError("metrics down")

    b.add_listener(broken)
    run(trip(b, up))
    assert b.state == OPEN
    assert seen == [(CLOSED, OPEN)]  # the other listener still heard it
    assert "listener failed" in caplog.text


@pytest.mark.parametrize(
    "kw", [{"failure_threshold": 0}, {"reset_timeout": -1}, {"half_open_max_calls": 0}]
)
def test_rejects_nonsense_settings(kw):
    with pytest.raises(ValueError):
        CircuitBreaker("x", **kw)
