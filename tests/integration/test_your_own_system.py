"""The guide's own examples (docs/your-own-system.md, examples/your-own-system) do what the guide says.

Local runtime: the sound shop passes a slow back end (its deadline and fallback hold), the
``no-fallback`` defect fails on the deadline check. A running back end (started here, as the guide
has the reader start it): the harness starts only the front, a ``down`` on front->back is ridden out
and latency on the load path shows in the clients. About 20 s a run.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from harness.journal import read_journal
from harness.net import free_port

pytestmark = pytest.mark.integration

SHOP = Path(__file__).resolve().parents[2] / "examples" / "your-own-system"


def test_the_sound_shop_passes_a_slow_back_end(run_experiment: Callable[..., Any]) -> None:
    run = run_experiment(str(SHOP / "experiment.yaml"))
    assert run.code == 0, run.explain()
    bit = run.check("the-fault-bit")["evidence"]
    assert bit["value_ms"] - bit["baseline_value_ms"] >= 200  # answers waited for the deadline: the fault bit


def test_without_the_fallback_the_deadline_check_fails(run_experiment: Callable[..., Any]) -> None:
    run = run_experiment(str(SHOP / "experiment.yaml"), "no-fallback")
    assert run.code == 1, run.explain()
    assert run.failed == {"answers-within-the-deadline"}, run.explain()
    assert run.check("answers-within-the-deadline")["evidence"]["value_ms"] > 1500  # waited out the 2 s latency


def test_a_back_end_already_running(run_experiment: Callable[..., Any], tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop)
    port = free_port("127.0.0.1")
    manifest = shop / "running" / "system.yaml"
    manifest.write_text(manifest.read_text().replace("127.0.0.1:8765", f"127.0.0.1:{port}"))
    back = subprocess.Popen([sys.executable, str(shop / "back.py")], env={"PORT": str(port)})
    try:
        run = run_experiment(str(shop / "running" / "experiment.yaml"))
        assert run.code == 0, run.explain()
        assert run.check("the-cut-bit-answers-are-degraded")["evidence"]["degraded"] >= 10  # the cut really bit
        history = read_journal(run.out / "journal.jsonl")
        assert {r["service"] for r in history.of_kind("service_stopped")} == {"front"}  # never stopped by the harness
        assert history.first("unfaultable")
        assert back.poll() is None
    finally:
        back.terminate()
        try:
            back.wait(timeout=10)
        except subprocess.TimeoutExpired:  # never leave it behind, even if SIGTERM was not enough
            back.kill()
            back.wait(timeout=10)
