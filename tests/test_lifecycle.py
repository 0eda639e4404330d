"""ChildProcess: the one place terminate-then-kill is written, for every process the harness starts."""
from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.lifecycle import ChildProcess


def python(tmp_path: Path, code: str, stop_timeout: float = 5.0) -> ChildProcess:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    return ChildProcess("child", [sys.executable, str(script)], log_path=tmp_path / "child.log", stop_timeout=stop_timeout)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stop_ends_a_child_with_sigterm_and_returns_its_code(tmp_path: Path) -> None:
    proc = python(tmp_path, """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc.start()
    wait_for(lambda: "ready" in proc.log_text())
    assert proc.running
    assert proc.stop() == 7
    assert not proc.running and proc.stop() == 7  # idempotent


def test_a_child_that_ignores_sigterm_is_killed_after_its_stop_timeout(tmp_path: Path) -> None:
    proc = python(tmp_path, """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """, stop_timeout=0.3)
    proc.start()
    wait_for(lambda: "ready" in proc.log_text())
    began = time.monotonic()
    assert proc.stop() == -signal.SIGKILL
    assert time.monotonic() - began < 5.0


def test_stop_also_ends_what_the_child_spawned(tmp_path: Path) -> None:
    proc = python(tmp_path, """
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
        print(grandchild.pid, flush=True)
        time.sleep(60)
    """)
    proc.start()
    wait_for(lambda: proc.log_text().strip().isdigit())
    grandchild = int(proc.log_text().strip())
    proc.stop()
    wait_for(lambda: not alive(grandchild), timeout=2.0)
    assert not alive(grandchild)


def test_a_paused_child_still_stops_gracefully(tmp_path: Path) -> None:
    proc = python(tmp_path, """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
        print("ready", flush=True)
        while True:
            time.sleep(0.01)
    """)
    proc.start()
    wait_for(lambda: "ready" in proc.log_text())
    proc.pause()
    assert proc.paused and proc.running
    assert proc.stop() == 3 and not proc.paused


def test_kill_is_a_crash_the_process_has_no_say_in(tmp_path: Path) -> None:
    proc = python(tmp_path, """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
    """)
    proc.start()
    proc.kill()
    assert proc.poll() == -signal.SIGKILL


def test_the_log_is_appended_and_log_text_reads_this_start_only(tmp_path: Path) -> None:
    (tmp_path / "child.log").write_text("an earlier run\n")
    proc = python(tmp_path, "print('this run', flush=True)\n")
    proc.start()
    proc.wait(10)
    assert proc.log_text() == "this run\n"
    assert proc.log_tail() == "an earlier run\nthis run"


def test_a_missing_program_raises_oserror_and_start_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        ChildProcess("nope", [str(tmp_path / "no-such-binary")], log_path=tmp_path / "nope.log").start()
    proc = python(tmp_path, "pass\n")
    proc.start()
    with pytest.raises(RuntimeError, match="start\\(\\) called twice"):
        proc.start()
    proc.stop()


def test_stop_before_start_is_a_no_op(tmp_path: Path) -> None:
    assert ChildProcess("x", ["true"], log_path=tmp_path / "x.log").stop() is None
