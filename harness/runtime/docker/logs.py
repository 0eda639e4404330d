"""Copy a container's output into ``logs/<service>.log`` as it is printed.

A thread follows the daemon's log stream (with timestamps) and appends each line, without its
timestamp, to the file, where ``EventTail`` finds the ``@harness-event`` lines exactly as it
does for a local process. The stream ends when the container stops; after a start the
follower is started again from the last timestamp it wrote, skipping lines it already has,
so a killed and restarted service has one continuous log.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


class LogFollower:
    def __init__(self, open_stream: Callable[[int | None], Iterable[bytes]], path: Path):
        """``open_stream(since)`` returns the daemon's log stream (timestamped, following) from ``since``."""
        self.open_stream = open_stream
        self.path = path
        self.last_ts = ""  # RFC 3339 with nanoseconds, UTC: compares correctly as a string
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._lock = threading.Lock()
        self.ended = threading.Event()  # set when the stream ended: the container stopped (or went away)

    def follow(self) -> None:
        """Start following (again); a no-op while a follower thread is still running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.ended.clear()
        self._thread = threading.Thread(target=self._run, name=f"logs-{self.path.stem}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            stream = self.open_stream(int(ts_seconds(self.last_ts)) if self.last_ts else None)
            with self._lock:
                self._stream = stream
            with self.path.open("ab") as out:
                for line in lines_of(stream):
                    ts, _, text = line.partition(b" ")
                    stamp = ts.decode("ascii", "replace")
                    if stamp <= self.last_ts:
                        continue  # already written before a restart
                    self.last_ts = stamp
                    out.write(text + b"\n")
                    out.flush()
        except Exception as exc:  # the container went away, or the daemon closed the stream
            with self.path.open("ab") as out:
                out.write(f"[harness] log stream ended: {type(exc).__name__}: {exc}\n".encode())
        finally:
            self._close_stream()
            self.ended.set()

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None and hasattr(stream, "close"):
            try:
                stream.close()
            except Exception:
                pass

    def stop(self, timeout: float = 5.0) -> None:
        """Wait for the stream to end (it does once the container is gone), then cut it."""
        thread = self._thread
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            self._close_stream()
            thread.join(timeout)

    def tail(self, lines: int = 20) -> str:
        try:
            data = self.path.read_bytes()[-8192:]
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def lines_of(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines from a stream of chunks that may split or join lines; the last partial line too."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete)
    if pending:
        yield pending


def ts_seconds(stamp: str) -> float:
    """'2026-11-26T11:32:13.123456789Z' -> epoch seconds (to microseconds; the overlap is skipped)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return base + (float("0." + frac[:6]) if frac else 0.0)
