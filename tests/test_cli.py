"""The CLI's contract: exit codes and messages, without running a system."""
from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_validate_accepts_the_shipped_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "experiments" / "circuit-breaker.yaml")]) == 0
    assert "ok (circuit-breaker" in capsys.readouterr().out


def test_validate_exits_2_and_names_every_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsystem: circuit-breaker\nload: {duration: 10 s}\n")
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(bad), str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: load.duration: invalid duration '10 s'" in err
    assert f"{missing}: no such experiment file" in err
    assert "Traceback" not in err


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2
    assert "the following arguments are required: experiment" in capsys.readouterr().err


def test_an_unknown_runtime_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ROOT / "experiments" / "circuit-breaker.yaml"), "--runtime", "kubernetes", "--quiet"])
    assert code == 2
    assert "unknown runtime 'kubernetes'" in capsys.readouterr().err


def test_list_shows_the_circuit_breaker_system(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "circuit-breaker:" in out and "breaker-disabled" in out and "orders->payments" in out


def test_the_public_api_is_importable_by_name() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None
