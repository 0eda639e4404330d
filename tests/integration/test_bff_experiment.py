"""The BFF experiment, sound and with shared fate, through the real CLI (about 35 s each)."""
from __future__ import annotations


import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/bff.yaml"


def test_web_is_isolated_while_mobile_degrades_to_partial_cards_in_time(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    iso = run.check("web-isolated-from-recommendations")["evidence"]
    assert iso["unaffected"]["during"]["p95_ms"] <= iso["unaffected"]["allowed_ms"]
    assert iso["affected"]["latency_ratio"] >= 3  # the fault did reach the mobile cards
    assert run.check("mobile-within-deadline")["evidence"]["value_ms"] < 650
    assert run.check("no-catalog-is-a-clean-503")["evidence"]["conforming"] >= 10
    assert run.check("answers-consistent")["evidence"]["wrong"] == 0
    assert run.check("mobile-partial-not-failed")["evidence"]["error_rate"] == 0


def test_shared_fate_is_caught_by_the_isolation_check(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "shared-fate")
    assert run.code == 1, run.explain()
    assert "web-isolated-from-recommendations" in run.failed, run.explain()
    iso = run.check("web-isolated-from-recommendations")
    assert "lost its steady state" in iso["summary"]
    assert iso["evidence"]["unaffected"]["during"]["p95_ms"] >= 2900  # web pages waited on the 3 s recommendations
    # Mobile behaves as before: the defect is in the web BFF only.
    assert run.check("mobile-within-deadline")["verdict"] == "passed"


@pytest.mark.full  # a code change no defect switch has (tests/mutants)
def test_a_web_bff_that_waits_for_the_catalog_fails_its_deadline_even_with_few_requests(run_experiment) -> None:
    """Users held by the slow catalog send few requests; the few there are already break the bound."""
    run = run_experiment(EXPERIMENT, mutant="bff/web-waits-for-catalog")
    assert run.code == 1, run.explain()
    assert "web-gives-up-on-the-catalog-in-time" in run.failed, run.explain()
    evidence = run.check("web-gives-up-on-the-catalog-in-time")["evidence"]
    assert evidence["value_ms"] > evidence["max_allowed_ms"], evidence
