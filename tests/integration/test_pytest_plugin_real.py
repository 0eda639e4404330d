"""The pytest plugin running a REAL short experiment: the circuit-breaker system, real Toxiproxy,
real services, real Locust, composed in Python in an inner pytest session (about 30 s a run).

The sound system passes; with the ``breaker-disabled`` defect the same test fails, and the
failure pytest prints is the failed checks with their evidence.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

INNER = '''
import pytest

SYSTEM = {system!r}


def breaker_experiment(harness):
    # A shortened circuit-breaker experiment: payments four times slower than orders' timeout for 8 s.
    return harness.compose(
        name="breaker-short",
        system=SYSTEM,
        seed=42,
        load={{"users": 8, "spawn_rate": 8, "duration": "20s"}},
        faults=[{{"name": "payments-slow", "type": "latency", "edge": "orders->payments",
                 "attributes": {{"latency": "payments_timeout * 4"}}, "start": "6s", "duration": "8s"}}],
        steady_state={{"warmup": "3s", "settle": "3s"}},
        checks=[
            {{"name": "breaker-opens", "type": "event_within", "event": {{"type": "breaker_state", "state": "open"}},
             "after": {{"fault": "payments-slow", "edge": "start"}}, "within": "payments_timeout + 500ms"}},
            {{"name": "fails-fast-while-open", "type": "latency", "window": {{"during": "payments-slow", "skip": "1s"}},
             "percentile": 95, "max": "150ms"}},
        ],
    )


@pytest.mark.parametrize("defect", [None, "breaker-disabled"])
def test_breaker(harness, defect):
    harness.run(breaker_experiment(harness), defect=defect).assert_passed()
'''


def test_a_real_experiment_through_the_plugin_passes_sound_and_fails_the_defect_readably(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_breaker=INNER.format(system=str(ROOT / "targets" / "circuit-breaker" / "system.yaml")))
    os.environ.setdefault("HARNESS_TARGETS", str(ROOT / "targets"))
    result = pytester.runpytest_subprocess("-p", "no:locust", "-p", "no:cacheprovider", "--junitxml=junit.xml",
                                           timeout=300)
    out = result.stdout.str()
    result.assert_outcomes(passed=1, failed=1)
    assert "test_breaker[None] PASSED" in out or "1 passed" in out
    result.stdout.fnmatch_lines([
        "*CheckFailed: breaker-short (circuit-breaker, defect breaker-disabled, seed 42): * checks did not pass*",
        "*[[]failed[]] fails-fast-while-open (latency): *",
        "*p95_ms*",
        "*run folder: *test_breaker*breaker-disabled*",
    ])
    runs = sorted((pytester.path / "reports" / "pytest").iterdir())
    assert [r.name.endswith("breaker-disabled") for r in runs] == [False, True]
    for run in runs:
        assert (run / "report.html").is_file() and (run / "journal.jsonl").is_file()
