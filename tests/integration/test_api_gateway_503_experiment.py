"""experiments/api-gateway-503.yaml for real: a replica answers 503 to half of its requests (an
HTTP fault, decided per request), and the gateway must retry those on the twin. About 35 s a run."""
from __future__ import annotations

import pytest

from harness.journal import read_journal

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/api-gateway-503.yaml"


def test_the_sound_gateway_retries_a_replicas_503_on_its_twin(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    assert run.check("a-succeeds-while-a1-answers-503")["evidence"]["error_rate"] <= 0.01
    # The fault bit, by the proxy's own count, and the journal says what it saw.
    assert run.check("a1-answered-503")["verdict"] == "passed"
    (traffic,) = read_journal(run.out / "journal.jsonl").of_kind("fault_traffic")
    assert traffic["faulted"] >= 5 and traffic["passed"] >= 5 and traffic["not_http_connections"] == 0


def test_a_gateway_that_relays_5xx_fails_the_requests_a1_answered(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "no-retry-on-5xx")
    assert run.code == 1, run.explain()
    assert run.failed == {"a-succeeds-while-a1-answers-503"}, run.explain()
    # Round robin sends half of backend a's requests to a1 first, which answers half of them 503.
    evidence = run.check("a-succeeds-while-a1-answers-503")["evidence"]
    assert 0.1 <= evidence["error_rate"] <= 0.45, evidence
    assert evidence["examples"][0]["status"] == 503
