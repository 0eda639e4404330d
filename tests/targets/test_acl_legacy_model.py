"""The ACL's translation: complete, well-formed legacy records become domain customers;
anything cut or malformed is refused, and the pass-through defect lets it all through."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).resolve().parents[2] / "targets" / "anti-corruption-layer"


def _load(name: str):
    # By path, under a unique name: other targets may have modules with the same names.
    spec = importlib.util.spec_from_file_location(f"acl_target_{name}", TARGET / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


model = _load("legacy_model")
legacy = _load("legacy")

GOOD = b"RC=00;CUSTNO=00000123;NM=O'BRIEN, JOHN;OPNDT=20190314;BALCTS=-000123456;STATCD=S;CCY=USD;END\n"


def test_a_complete_record_is_translated_into_the_domain_model() -> None:
    assert model.translate(GOOD, 123) == {
        "id": "123", "name": "John O'Brien", "opened_on": "2019-03-14",
        "balance": {"amount": "-1234.56", "currency": "USD"}, "status": "suspended",
    }


def test_every_record_the_legacy_service_serves_translates() -> None:
    for n in range(1, 5001, 7):
        customer = model.translate(legacy.answer(model.request_line(n)).encode() + b"\n", n)
        assert customer["id"] == str(n) and customer["status"] in ("active", "suspended", "closed")


@pytest.mark.parametrize("cut", [10, 40, len(GOOD) - 5, len(GOOD) - 1])
def test_a_truncated_record_is_refused_as_truncated(cut: int) -> None:
    with pytest.raises(model.LegacyRecordError) as info:
        model.translate(GOOD[:cut], 123)
    assert info.value.reason == "truncated"


@pytest.mark.parametrize("raw, detail", [
    (GOOD.replace(b"OPNDT=20190314", b"OPNDT=20191399"), "OPNDT='20191399' is not a date"),
    (GOOD.replace(b"STATCD=S", b"STATCD=X"), "STATCD='X' is not in the legacy format"),
    (GOOD.replace(b"BALCTS=-000123456", b"BALCTS=12.34"), "BALCTS='12.34' is not in the legacy format"),
    (GOOD.replace(b"CCY=USD;", b""), "fields missing: CCY"),
    (GOOD.replace(b"CUSTNO=00000123", b"CUSTNO=00000124"), "asked for customer 123, got 124"),
    (GOOD.replace(b"RC=00", b"RC=08"), "return code '08'"),
    (GOOD.replace(b"CCY=USD", b"CCY=USD;CCY=EUR"), "a field appears twice"),
    (GOOD.replace(b"JOHN", b"J\xc3\x96HN"), "the record is not ASCII"),
])
def test_a_malformed_record_is_refused_naming_the_problem(raw: bytes, detail: str) -> None:
    with pytest.raises(model.LegacyRecordError) as info:
        model.translate(raw, 123)
    assert info.value.reason == "malformed" and info.value.detail == detail


def test_an_unknown_customer_is_not_an_error_of_the_record() -> None:
    with pytest.raises(model.NoSuchCustomer):
        model.translate(b"RC=04;CUSTNO=00009999;END\n", 9999)


def test_the_pass_through_defect_lets_a_truncated_record_into_the_domain() -> None:
    cut = model.translate_unchecked(GOOD[:66], 123)  # ...;BALCTS=-0001
    assert cut["id"] == "123" and cut["name"] == "John O'Brien"
    assert cut["opened_on"] == "2019-03-14" and cut["balance"] == {"amount": "-0.01", "currency": None}
    assert cut["status"] is None  # and a wrong balance: -0.01 instead of -1234.56
    assert model.translate_unchecked(b"RC=00;CU", 123)["name"] is None


def test_the_legacy_service_answers_its_protocol() -> None:
    assert legacy.answer(b"INQ CUST 00000001\n").startswith("RC=00;CUSTNO=00000001;NM=")
    assert legacy.answer(b"INQ CUST 00009999\n") == "RC=04;CUSTNO=00009999;END"
    assert legacy.answer(b"hello\n") == "RC=08;END"
