"""The database-per-service effect check (targets/database-per-service/checks.py) on hand-written
histories: the manifest's audits as recorded after quiescence, and the buyers' recorded answers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import plugins
from harness.checks.registry import Outcome, check_types
from harness.checks.windows import Windows
from harness.journal import History
from harness.system import load_system

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_000_000.0
PRODUCTS = [{"id": 1, "price_cents": 137}, {"id": 2, "price_cents": 174}]


@pytest.fixture(scope="module", autouse=True)
def dbps_plugin() -> None:
    plugins.load_for(load_system(ROOT / "targets" / "database-per-service" / "system.yaml"))


def order(oid: int, product: int = 1, quantity: int = 1, total: int | None = None) -> dict[str, Any]:
    price = next(p["price_cents"] for p in PRODUCTS if p["id"] == product)
    return {"id": oid, "user_id": 7, "product_id": product, "quantity": quantity,
            "total_cents": quantity * price if total is None else total}


def history(stored: list[dict[str, Any]], answered: list[dict[str, Any]], audits: bool = True) -> History:
    recs: list[dict[str, Any]] = [{"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 0, "settle": 0}},
                                  {"kind": "load_started", "t": T0}]
    recs += [{"kind": "request", "t": T0 + i, "name": "POST /orders", "method": "POST", "ms": 20.0, "outcome": "ok",
              "status": 200, "body": json.dumps(a)} for i, a in enumerate(answered)]
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    if audits:
        recs += [{"kind": "invariant_audit", "t": T0 + 31, "audit": "orders", "source": "sql", "service": "db", "value": stored},
                 {"kind": "invariant_audit", "t": T0 + 31, "audit": "products", "source": "sql", "service": "db",
                  "value": PRODUCTS}]
    return History(recs)


def run(h: History) -> Outcome:
    ctype = check_types.get("dbps_orders_consistent")
    return ctype.run(h, ctype.Params(), Windows(h))


def test_orders_stored_as_answered_and_priced_from_the_catalog_pass() -> None:
    orders = [order(51), order(52, product=2, quantity=3)]
    out = run(history(orders + [order(53)], orders))  # 53: stored, its answer lost (a reset mid-request)
    assert out.verdict == "passed" and out.evidence["answered_200"] == 2


def test_an_order_answered_200_but_not_stored_fails_naming_it() -> None:
    out = run(history([order(51)], [order(51), order(52)]))
    assert out.verdict == "failed" and "1 of 2 orders answered 200 are not stored as answered, e.g. order 52" in out.summary


def test_an_order_stored_with_a_fallback_price_fails_naming_it() -> None:
    cheap = order(51, product=2, quantity=2, total=0)
    out = run(history([cheap], []))
    assert out.verdict == "failed"
    assert "e.g. order 51: 2 x product 2 at 174 stored as 0" in out.summary


def test_without_the_manifests_audits_the_check_is_unknown_and_says_what_is_missing() -> None:
    out = run(history([], [order(51)], audits=False))
    assert out.verdict == "unknown" and "needs an invariant check" in out.summary
