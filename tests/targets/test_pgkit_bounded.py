"""pgkit.bounded: a deadline answered on time even when the work's own clean-up is slow.

psycopg cleans up a query cut short by asking the server to cancel it and waiting for that;
through a hung edge that wait is long. asyncio.timeout would make the caller wait for it too.
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "targets" / "_shared"))
from pgkit import bounded  # noqa: E402

cleaned: list[float] = []


async def slow_to_clean_up(answer_after: float) -> str:
    try:
        await asyncio.sleep(answer_after)
        return "answer"
    finally:
        # What psycopg does on cancellation through a hung edge: wait, unaware of any deadline.
        await asyncio.shield(asyncio.sleep(0.5))
        cleaned.append(time.monotonic())


def test_the_answer_comes_back_when_the_work_finishes_in_time() -> None:
    assert asyncio.run(bounded(1.0, slow_to_clean_up(0.01))) == "answer"


def test_past_the_deadline_the_caller_is_answered_at_once_and_the_clean_up_goes_on() -> None:
    async def scenario() -> float:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="no answer within 0.2s"):
            await bounded(0.2, slow_to_clean_up(10))
        waited = time.monotonic() - started
        await asyncio.sleep(0.7)  # let the abandoned clean-up finish before the loop closes
        return waited

    cleaned.clear()
    waited = asyncio.run(scenario())
    assert waited < 0.4, f"the caller waited {waited:.2f}s for a 0.2s deadline"
    assert cleaned, "the clean-up still ran, in the background"


def test_errors_of_the_work_reach_the_caller() -> None:
    async def broken() -> None:
        raise ConnectionResetError("reset")

    with pytest.raises(ConnectionResetError):
        asyncio.run(bounded(1.0, broken()))
