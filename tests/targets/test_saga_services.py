"""The saga participants as real processes on a real PostgreSQL: idempotent by saga id, and a
compensation that comes first leaves a tombstone that refuses the late action."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pgservice import postgres, service

pytestmark = pytest.mark.integration


def balance(payments: httpx.Client, customer: str) -> int:
    return next(a["balance"] for a in payments.get("/audit").json()["accounts"] if a["customer"] == customer)


def test_payments_charges_once_per_saga_and_refunds_once(tmp_path: Path) -> None:
    with postgres("payments", tmp_path) as db, service("saga", "payments", tmp_path, DATABASE_URL=f"{db}/payments",
                                                       INITIAL_BALANCE_CENTS="10000") as payments:
        charge = {"saga_id": "s1", "customer": "c1", "amount_cents": 700}
        assert payments.post("/charges", json=charge).json()["status"] == "charged"
        again = payments.post("/charges", json=charge).json()
        assert again["status"] == "charged" and again["replayed"] is True
        assert balance(payments, "c1") == 9300  # debited once
        assert payments.post("/refunds", json={"saga_id": "s1"}).json()["status"] == "refunded"
        assert payments.post("/refunds", json={"saga_id": "s1"}).json() == {"saga_id": "s1", "status": "refunded", "replayed": True}
        assert balance(payments, "c1") == 10000
        refused = payments.post("/charges", json=charge)
        assert refused.status_code == 409 and "already compensated" in refused.json()["error"]


def test_a_refund_before_its_charge_makes_the_late_charge_refused(tmp_path: Path) -> None:
    with postgres("payments", tmp_path) as db, service("saga", "payments", tmp_path, DATABASE_URL=f"{db}/payments") as payments:
        assert payments.post("/refunds", json={"saga_id": "s2"}).json()["status"] == "cancelled"
        late = payments.post("/charges", json={"saga_id": "s2", "customer": "c1", "amount_cents": 100})
        assert late.status_code == 409
        audit = payments.get("/audit").json()
        tomb = next(c for c in audit["charges"] if c["saga_id"] == "s2")
        assert {k: tomb[k] for k in ("customer", "amount", "status")} == {"customer": None, "amount": 0, "status": "cancelled"}
        # The tombstone is an undo: made and undone at the same moment, by the participant's clock.
        assert tomb["created_at"] == tomb["compensated_at"]
        # Calls are counted per saga on arrival, whatever their answer.
        assert audit["calls"] == {"refunds": {"s2": 1}, "charges": {"s2": 1}}


def test_a_repeated_cancellation_keeps_the_time_the_shipment_was_cancelled(tmp_path: Path) -> None:
    with postgres("shipping", tmp_path) as db, service("saga", "shipping", tmp_path, DATABASE_URL=f"{db}/shipping") as shipping:
        assert shipping.post("/shipments", json={"saga_id": "s3", "address": "1 main street"}).status_code == 200
        assert shipping.post("/cancellations", json={"saga_id": "s3"}).json()["status"] == "cancelled"
        first = shipping.get("/audit").json()["shipments"][0]
        assert shipping.post("/cancellations", json={"saga_id": "s3"}).json()["status"] == "cancelled"
        again = shipping.get("/audit").json()["shipments"][0]
        assert again["status"] == "cancelled" and again["compensated_at"] == first["compensated_at"] > first["created_at"]


def test_participants_refuse_definitively_without_changing_anything(tmp_path: Path) -> None:
    with postgres("payments,inventory,shipping", tmp_path) as db, \
            service("saga", "payments", tmp_path, DATABASE_URL=f"{db}/payments", INITIAL_BALANCE_CENTS="500") as payments, \
            service("saga", "inventory", tmp_path, DATABASE_URL=f"{db}/inventory", LIMITED_STOCK="3") as inventory, \
            service("saga", "shipping", tmp_path, DATABASE_URL=f"{db}/shipping") as shipping:
        assert payments.post("/charges", json={"saga_id": "a", "customer": "c1", "amount_cents": 501}).status_code == 402
        assert inventory.post("/reservations", json={"saga_id": "b", "sku": "sku-limited", "qty": 4}).status_code == 409
        assert shipping.post("/shipments", json={"saga_id": "c", "address": "nowhere 7"}).status_code == 422
        assert payments.get("/audit").json()["charges"] == []
        assert inventory.get("/audit").json()["reservations"] == []
        assert balance(payments, "c1") == 500
        # A release that comes first leaves a tombstone too.
        assert inventory.post("/releases", json={"saga_id": "d"}).json()["status"] == "cancelled"
        assert inventory.post("/reservations", json={"saga_id": "d", "sku": "sku-0", "qty": 1}).status_code == 409
