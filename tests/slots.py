"""A machine-wide cap on real experiments running at once, for test runs only.

Real experiments judge latency, so several of them on a small machine (a developer's laptop
running two test sessions, or parallel CI jobs sharing a host) slow each other down and fail
for a reason that is not the system's. Every test marked ``integration`` holds one of
``HARNESS_TEST_SLOTS`` slots (default 3: one experiment uses about half a core of this 2-core machine) while it runs; the
slots are ``flock``s on files under the temp directory, so they are shared by every pytest
process on the machine and released by the kernel if a process dies.

An experiment about contention (``load.users`` >= ``EXCLUSIVE_USERS``) measures what its own load
does to the system, and that load already fills this machine: it holds every slot and runs
alone (``weight``). Beside two other experiments its sound runs failed 6 of 10 (bff-contention:
every part of a card timing out at once, the BFF starved of CPU), alone they pass.
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


EXCLUSIVE_USERS = 20


def weight_of(experiment: str | Path) -> int:
    """How many slots a run of this experiment file holds: all of them for a contention experiment."""
    import yaml  # the tests' environment has it; slots.py stays importable without it otherwise

    try:
        users = int((yaml.safe_load(Path(experiment).read_text()) or {}).get("load", {}).get("users", 1))
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return 1
    return slot_count() if users >= EXCLUSIVE_USERS else 1


def slot_count() -> int:
    try:
        return max(1, int(os.environ.get("HARNESS_TEST_SLOTS", "3")))
    except ValueError:
        return 3


@contextlib.contextmanager
def experiment_slot(poll_s: float = 0.5, weight: int = 1) -> Iterator[int]:
    """Hold one slot (``weight`` slots) for the duration of the block; waits (without a bound) for them."""
    SLOTS_DIR.mkdir(exist_ok=True)
    n = slot_count()
    if weight > 1:
        # Taken in index order, blocking: two heavy runs queue on slot 0, and a light run can
        # only take a slot the heavy one has not reached yet, so nobody waits in a circle.
        held = []
        try:
            for i in range(min(weight, n)):
                f = (SLOTS_DIR / f"slot-{i}").open("a")
                held.append(f)
                fcntl.flock(f, fcntl.LOCK_EX)
            yield 0
        finally:
            for f in held:
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()
        return
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
