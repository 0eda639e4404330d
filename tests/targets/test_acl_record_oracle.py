"""The ACL target's client oracle (record_oracle.py): the domain answer worked out from legacy's record.

It must agree with the sound ACL and customers everywhere, and name what differs in a wrong answer.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "targets" / "anti-corruption-layer"


def _load(name: str):
    if str(TARGET) not in sys.path:
        sys.path.insert(0, str(TARGET))  # record_oracle imports legacy, as the locustfile does
    spec = importlib.util.spec_from_file_location(f"acl_{name}", TARGET / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oracle, model, legacy = _load("record_oracle"), _load("legacy_model"), _load("legacy")


def test_the_oracle_agrees_with_the_sound_translation_for_every_customer() -> None:
    for n in range(1, legacy.CUSTOMERS + 1):
        want = oracle.expected(n)
        assert want is not None and want["customer"] == model.translate((legacy.record(n) + "\n").encode(), n)
    assert oracle.expected(legacy.CUSTOMERS + 1) is None


def test_the_standing_follows_status_and_balance() -> None:
    standings = {oracle.expected(n)["standing"] for n in range(1, 200)}
    assert standings == {"good", "watch", "inactive"}
    for n in range(1, 200):
        want = oracle.expected(n)
        c = want["customer"]
        expect = "inactive" if c["status"] != "active" else ("watch" if c["balance"]["amount"].startswith("-") else "good")
        assert want["standing"] == expect


def test_a_wrong_answer_is_named() -> None:
    right = oracle.expected(123)
    assert oracle.difference(right, 123) is None
    wrong = {**right, "customer": {**right["customer"], "balance": {"amount": "1.00", "currency": "USD"}}}
    assert oracle.difference(wrong, 123).startswith("customer 123: balance is {'amount': '1.00'")
    assert oracle.difference({**right, "standing": "good" if right["standing"] != "good" else "watch"}, 123).startswith(
        "customer 123: standing is")
    assert oracle.difference(right, 124).startswith("customer 124: id is '123'")
    assert oracle.difference(right, 9999) == "customer 9999 does not exist, yet the domain answered one"
