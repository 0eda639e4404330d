"""``harness ui``'s command glue without deploying anything: what it accepts and refuses."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InputError
from harness.ui.command import session_experiment

ROOT = Path(__file__).resolve().parents[2]


def test_a_system_name_is_a_session_with_no_faults_and_no_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exp = session_experiment("circuit-breaker")
    assert exp.name == "ui-circuit-breaker" and exp.target.name == "circuit-breaker"
    assert exp.faults == [] and exp.checks == []


def test_an_experiment_file_is_taken_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exp = session_experiment("experiments/circuit-breaker.yaml")
    assert exp.name == "circuit-breaker" and exp.faults and exp.checks


def test_neither_a_file_nor_a_system_names_the_known_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(InputError) as caught:
        session_experiment("no-such-thing")
    assert "neither an experiment file nor a system" in str(caught.value) and "circuit-breaker" in str(caught.value)


@pytest.mark.parametrize("argv", [
    ["ui", "circuit-breaker", "--web-port", "0"],
    ["ui", "circuit-breaker", "--workers", "-1"],
    ["ui", "no-such-thing"],
    ["run", "experiments/circuit-breaker.yaml", "--workers", "-1"],
    ["run", "experiments/circuit-breaker.yaml", "experiments/saga.yaml", "--workers", "2"],
])
def test_bad_options_exit_2_before_anything_starts(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                    argv: list[str]) -> None:
    monkeypatch.chdir(ROOT)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_web_port_in_use_is_an_environment_error_before_anything_is_deployed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "circuit-breaker", "--web-port", str(port), "--out", "unused"]) == 3
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--web-port" in err
    assert not (ROOT / "unused").exists()
