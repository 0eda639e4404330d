"""``harness explore`` refuses bad input with exit 2, naming what is wrong, before anything starts."""
from __future__ import annotations

import pytest

from harness.cli import main


@pytest.mark.parametrize("args, message", [
    (["nosuch"], "unknown system 'nosuch': not a manifest path and not a built-in system"),
    (["circuit-breaker", "--faults", "downn"], "unknown matrix fault 'downn' (did you mean 'down'?)"),
    (["circuit-breaker", "--targets", "orders->paymnts"], "system 'circuit-breaker' has no edge or service "
                                                          "'orders->paymnts'"),
    (["circuit-breaker", "--fail-on", "recovery,speed"], "unknown --fail-on property 'speed'; known: invariants, "
                                                         "recovery, amplification, blast-radius, baseline"),
    (["circuit-breaker", "--defect", "nope"], "system 'circuit-breaker' has no defect 'nope'"),
    (["circuit-breaker", "--users", "0"], "--users must be at least 1, got 0"),
    (["circuit-breaker", "--phases", "5s,6s"], "expected baseline,fault,recovery (e.g. 6s,8s,10s)"),
    (["circuit-breaker", "--budget", "ten minutes"], "invalid duration 'ten minutes'"),
])
def test_bad_explore_input_is_exit_2_with_the_reason(args: list[str], message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["explore", *args])
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err
