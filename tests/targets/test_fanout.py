"""The shared fan-out helper without a network: per-part deadlines, statuses, the envelope, events."""
from __future__ import annotations

import asyncio
import json
import time

import httpx

from fanout import Part, PartStatusTracker, UpstreamError, envelope, fetch_json, gather_parts
from servicekit import EVENT_PREFIX


def answer(value, delay: float = 0.0):
    async def call():
        await asyncio.sleep(delay)
        return value
    return call


def failing(exc: Exception):
    async def call():
        raise exc
    return call


def test_a_slow_part_is_missing_after_its_deadline_and_the_others_still_answer() -> None:
    started = time.perf_counter()
    parts = asyncio.run(gather_parts({"fast": answer({"x": 1}), "slow": answer({"y": 2}, delay=5)}, deadline=0.2))
    took = time.perf_counter() - started
    assert took < 2.0, f"waited {took:.2f}s for a part past its deadline"
    assert parts["fast"].status == "ok" and parts["fast"].data == {"x": 1}
    assert parts["slow"].status == "timeout" and parts["slow"].data is None
    assert parts["slow"].error == "no answer within 0.2s" and parts["slow"].ms >= 150


def test_without_a_deadline_every_part_is_awaited() -> None:
    parts = asyncio.run(gather_parts({"slow": answer("late", delay=0.3)}, deadline=None))
    assert parts["slow"].ok and parts["slow"].data == "late" and parts["slow"].ms >= 250


def test_upstream_errors_make_a_part_missing_with_the_reason() -> None:
    calls = {"down": failing(httpx.ConnectError("connection refused")), "garbled": failing(UpstreamError("HTTP 503")),
             "httpx-timeout": failing(httpx.ReadTimeout("read timed out"))}
    parts = asyncio.run(gather_parts(calls, deadline=1.0))
    assert parts["down"].status == "error" and "ConnectError: connection refused" in parts["down"].error
    assert parts["garbled"].status == "error" and parts["garbled"].error == "UpstreamError: HTTP 503"
    assert parts["httpx-timeout"].status == "timeout"


def test_the_envelope_names_the_missing_parts() -> None:
    parts = {"a": Part("a", "ok", 3.14159, data=1), "c": Part("c", "error", 1.0, error="boom"),
             "b": Part("b", "timeout", 500.0)}
    assert envelope(parts) == {
        "parts": {"a": {"status": "ok", "ms": 3.1}, "c": {"status": "error", "ms": 1.0, "error": "boom"},
                  "b": {"status": "timeout", "ms": 500.0}},
        "partial": True, "missing": ["b", "c"]}
    assert envelope({"a": parts["a"]})["partial"] is False


def test_fetch_json_rejects_non_2xx_and_bodies_that_are_not_json() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ok":
            return httpx.Response(200, json={"fine": True})
        if request.url.path == "/list":
            return httpx.Response(200, json=[1, 2])
        if request.url.path == "/garbled":
            return httpx.Response(200, content=b'{"cut": ')
        return httpx.Response(503)

    async def run():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://x") as client:
            ok = (await fetch_json(client, "/ok"), await fetch_json(client, "/ok", key="fine"))
            outcomes = []
            for path, key in (("/garbled", None), ("/down", None), ("/ok", "other"), ("/list", "fine")):
                try:
                    await fetch_json(client, path, key=key)
                except UpstreamError as exc:
                    outcomes.append(str(exc))
            return ok, outcomes

    ok, outcomes = asyncio.run(run())
    assert ok == ({"fine": True}, True)
    assert outcomes == ["answer is not valid JSON", "HTTP 503", "answer has no 'other'", "answer has no 'fine'"]


def test_the_tracker_reports_transitions_only(capsys) -> None:
    tracker = PartStatusTracker()
    ok, slow = Part("recs", "ok", 1.0), Part("recs", "timeout", 400.0, error="no answer within 0.4s")
    for part in (ok, ok, slow, slow, slow, ok):
        tracker.observe({"recs": part})
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line[len(EVENT_PREFIX):]) for line in lines]
    assert [(e["previous"], e["status"]) for e in events] == [("ok", "timeout"), ("timeout", "ok")]
    assert events[0] | {"t": 0} == {"t": 0, "type": "part_status", "part": "recs", "status": "timeout",
                                    "previous": "ok", "error": "no answer within 0.4s"}
