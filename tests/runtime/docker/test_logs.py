"""Copying a container's log stream into the run folder, across a restart, without repeats."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from harness.runtime.docker.logs import LogFollower, lines_of, ts_seconds
from harness.runtime.logtail import EventTail


class FakeStream:
    def __init__(self, chunks: list[bytes]):
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def test_lines_are_rebuilt_from_chunks_that_split_and_join_them() -> None:
    assert list(lines_of([b"a\nb", b"c\n", b"d\ne"])) == [b"a", b"bc", b"d", b"e"]
    assert list(lines_of([])) == []


def test_a_docker_timestamp_reads_as_epoch_seconds() -> None:
    assert ts_seconds("1970-01-01T00:00:10.250000000Z") == 10.25
    assert ts_seconds("1970-01-01T00:01:00Z") == 60.0


def test_the_follower_writes_lines_without_timestamps_and_events_reach_the_tail(tmp_path: Path) -> None:
    stream = FakeStream([b"2026-01-01T00:00:01.000000001Z hello\n2026-01-01T00:00:01.5",
                         b'00000000Z @harness-event {"t": 5, "type": "x"}\n'])
    log = tmp_path / "svc.log"
    follower = LogFollower(lambda since: stream, log)
    follower.follow()
    follower.stop()
    assert log.read_text() == 'hello\n@harness-event {"t": 5, "type": "x"}\n'
    assert follower.ended.is_set() and stream.closed
    assert [e["type"] for e in EventTail("svc", log).drain()] == ["x"]


def test_after_a_restart_the_follower_resumes_from_its_last_line_without_repeating_it(tmp_path: Path) -> None:
    first = [b"2026-01-01T00:00:01.000000000Z one\n", b"2026-01-01T00:00:02.000000000Z two\n"]
    # The daemon's `since` has whole-second resolution: the second stream repeats 'two'.
    second = [b"2026-01-01T00:00:02.000000000Z two\n", b"2026-01-01T00:00:09.000000000Z three\n"]
    asked: list[int | None] = []
    streams = iter([FakeStream(first), FakeStream(second)])

    def open_stream(since: int | None) -> FakeStream:
        asked.append(since)
        return next(streams)

    log = tmp_path / "svc.log"
    follower = LogFollower(open_stream, log)
    follower.follow()
    follower.stop()
    follower.follow()
    follower.stop()
    assert log.read_text() == "one\ntwo\nthree\n"
    assert asked == [None, int(ts_seconds("2026-01-01T00:00:02Z"))]


def test_a_stream_that_fails_is_noted_in_the_log_and_ends_the_follower(tmp_path: Path) -> None:
    def broken(since: int | None) -> FakeStream:
        raise ConnectionError("daemon went away")

    log = tmp_path / "svc.log"
    follower = LogFollower(broken, log)
    follower.follow()
    follower.stop()
    assert follower.ended.is_set()
    assert "log stream ended: ConnectionError: daemon went away" in log.read_text()
    assert "daemon went away" in follower.tail()
