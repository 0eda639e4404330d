"""The machine-wide experiment slots: a contention experiment holds them all."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import slots


def test_a_contention_experiment_weighs_every_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_SLOTS", "3")
    (tmp_path / "busy.yaml").write_text("load: {users: 24}\n")
    (tmp_path / "light.yaml").write_text("load: {users: 8}\n")
    assert slots.weight_of(tmp_path / "busy.yaml") == 3
    assert slots.weight_of(tmp_path / "light.yaml") == 1
    assert slots.weight_of(tmp_path / "missing.yaml") == 1


def test_while_the_heavy_run_holds_the_slots_a_light_one_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_SLOTS", "2")
    monkeypatch.setattr(slots, "SLOTS_DIR", tmp_path)
    got: list[float] = []

    def light() -> None:
        with slots.experiment_slot(poll_s=0.02):
            got.append(time.monotonic())

    with slots.experiment_slot(weight=2):
        thread = threading.Thread(target=light)
        thread.start()
        time.sleep(0.3)
        assert not got  # both slots are held
        released = time.monotonic()
    thread.join(timeout=5)
    assert got and got[0] >= released
