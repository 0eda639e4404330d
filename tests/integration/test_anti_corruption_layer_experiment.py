"""experiments/anti-corruption-layer.yaml for real: passes on the sound system, and each defect
of the system fails the check that measures what it breaks. About 35 s per run."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

EXPERIMENT = "experiments/anti-corruption-layer.yaml"


def leaves(value: object) -> list[object]:
    """Every scalar in a JSON document (nested objects and lists flattened)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in leaves(v)]
    return [value]


def test_the_sound_acl_keeps_the_domain_clean_through_slicing_truncation_and_latency(run_experiment) -> None:
    run = run_experiment(EXPERIMENT)
    assert run.code == 0, run.explain()
    assert run.result["verdict"] == "passed" and not run.failed
    everything = run.check("domain-answers-conform")["evidence"]
    assert everything["non_conforming"] == 0 and everything["degraded"] >= 10
    truncated = run.check("truncation-is-a-clean-domain-error")["evidence"]
    # Four in five legacy connections were cut, each at its own offset: clean 503s; the rest whole.
    assert set(truncated["statuses"]) == {"200", "503"} and truncated["degraded"] == truncated["statuses"]["503"]
    assert run.check("sliced-answers-reassembled")["evidence"]["statuses"] == {
        "200": run.check("sliced-answers-reassembled")["evidence"]["requests"]}
    # Every customer shown agreed with the system of record; unknown ones were a clean 404.
    assert run.check("answers-agree-with-the-system-of-record")["evidence"]["requests"] > 500
    assert run.check("unknown-customers-are-a-clean-404")["evidence"]["statuses"].get("404", 0) >= 5
    # Legacy connections closed before the answer's first byte: clean 503s, never "not found".
    closed = run.check("unanswered-inquiry-is-a-clean-domain-error")["evidence"]
    assert closed["degraded"] >= 5 and closed["non_conforming"] == 0


def test_a_pass_through_acl_lets_cut_and_sliced_records_into_the_domain(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "pass-through")
    assert run.code == 1, run.explain()
    assert {"domain-answers-conform", "sliced-answers-reassembled", "truncation-is-a-clean-domain-error"} <= run.failed
    example = run.check("truncation-is-a-clean-domain-error")["evidence"]["non_conforming_examples"][0]
    # The offending answer itself: a 200 carrying a customer built from half a record.
    assert example["status"] == 200 and example["problem"].startswith("$.customer")
    # Cut somewhere among its last fields (truncate draws the offset), some field of it is missing.
    assert None in leaves(json.loads(example["body"])["customer"]), example["body"]
    assert run.check("sliced-answers-reassembled")["evidence"]["non_conforming"] > 100
    # The client's oracle sees it too: customers that differ from the system of record.
    assert "answers-agree-with-the-system-of-record" in run.failed


@pytest.mark.full  # the system's first defect runs in make test; the others under make test-full
def test_an_acl_without_a_deadline_holds_the_domain_as_long_as_legacy_is_slow(run_experiment) -> None:
    run = run_experiment(EXPERIMENT, "no-deadline")
    assert run.code == 1, run.explain()
    assert "slow-legacy-is-cut-at-the-deadline" in run.failed, run.explain()
    # Legacy is 2.5 s slow; what ends the wait now is the domain's own 2 s backstop (acl_timeout).
    assert run.check("slow-legacy-is-cut-at-the-deadline")["evidence"]["value_ms"] >= 1900


@pytest.mark.full  # a code change no defect switch has (tests/mutants, blind set 2)
def test_an_empty_legacy_answer_read_as_no_such_customer_is_a_wrong_404(run_experiment) -> None:
    """An orderly close before the answer's first byte is a lost answer; taken for "not found" it is a lie."""
    run = run_experiment(EXPERIMENT, mutant="anti-corruption-layer/empty-answer-read-as-not-found")
    assert run.code == 1, run.explain()
    assert {"unanswered-inquiry-is-a-clean-domain-error", "answers-agree-with-the-system-of-record"} <= run.failed
    example = run.check("unanswered-inquiry-is-a-clean-domain-error")["evidence"]["non_conforming_examples"][0]
    assert example["status"] == 404, example


@pytest.mark.full  # a code change no defect switch has (tests/mutants)
def test_records_missing_their_last_fields_accepted_with_defaults_show_the_wrong_customer(run_experiment) -> None:
    """A record cut after its balance passes a lenient parser; a suspended customer turns active."""
    run = run_experiment(EXPERIMENT, mutant="anti-corruption-layer/release7-records-accepted")
    assert run.code == 1, run.explain()
    assert "answers-agree-with-the-system-of-record" in run.failed, run.explain()
