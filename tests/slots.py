"""A machine-wide cap on real experiments running at once, for test runs only.

Real experiments judge latency, so several of them on a small machine (a developer's laptop
running two test sessions, or parallel CI jobs sharing a host) slow each other down and fail
for a reason that is not the system's. Every test marked ``integration`` holds one of
``HARNESS_TEST_SLOTS`` slots (default 2, the cores ``make test`` plans for) while it runs; the
slots are ``flock``s on files under the temp directory, so they are shared by every pytest
process on the machine and released by the kernel if a process dies.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SLOTS_DIR = Path(tempfile.gettempdir()) / "harness-test-slots"


def slot_count() -> int:
    try:
        return max(1, int(os.environ.get("HARNESS_TEST_SLOTS", "2")))
    except ValueError:
        return 2


@contextlib.contextmanager
def experiment_slot(poll_s: float = 0.5) -> Iterator[int]:
    """Hold one slot for the duration of the block; waits (without a bound) for a free one."""
    SLOTS_DIR.mkdir(exist_ok=True)
    n = slot_count()
    while True:
        for i in range(n):
            f = (SLOTS_DIR / f"slot-{i}").open("a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            try:
                yield i
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()
            return
        time.sleep(poll_s)
