"""Database-per-service effects that need a join across two services' databases.

    dbps_orders_consistent   every order a client was answered 200 for is stored exactly as it
                             was answered, and every stored order is priced from the catalog
                             (quantity x the product's price): no fallback price, no lost order

It reads the manifest's audits as the harness recorded them after quiescence (``invariant_audit``
records: orders' and catalog's databases, read directly) and the clients' recorded answers, so
the experiment needs an ``invariant`` check (which makes the harness read those audits) and
``load.record_bodies``.
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from harness.checks import Outcome, check
from harness.checks.selection import RequestFilter
from harness.journal import History
from harness.model import Spec

FIELDS = ("user_id", "product_id", "quantity", "total_cents")


class OrdersParams(Spec):
    orders_audit: str = Field("orders", description="the manifest audit listing stored orders")
    products_audit: str = Field("products", description="the manifest audit listing the catalog's prices")
    placed: RequestFilter = Field(default_factory=lambda: RequestFilter(name="POST /orders"))
    max_examples: int = Field(10, ge=1)


def _audit(history: History, name: str) -> tuple[Any, str | None]:
    found = [r for r in history.of_kind("invariant_audit") if r.get("audit") == name]
    if not found:
        return None, (f"no '{name}' audit in the journal: the experiment needs an invariant check, which makes the "
                      f"harness read the manifest's audits after quiescence")
    last = found[-1]
    if "error" in last:
        return None, f"the '{name}' audit could not be read: {last['error']}"
    return last.get("value"), None


@check("dbps_orders_consistent", OrdersParams)
def orders_consistent(history: History, p: OrdersParams, windows: Any) -> Outcome:
    """Acknowledged orders are stored as answered; every stored order is priced from the catalog."""
    orders, problem = _audit(history, p.orders_audit)
    products, problem2 = _audit(history, p.products_audit)
    if problem or problem2:
        return Outcome("unknown", str(problem or problem2), {})
    stored = {int(o["id"]): o for o in orders}
    price = {int(r["id"]): int(r["price_cents"]) for r in products}
    origin = windows.origin or 0.0
    acked, lost = 0, []
    placed = p.placed.select(history.requests)
    for r in placed.take(placed.status == 200):
        if not r.get("body") or r.get("body_truncated"):
            continue
        try:
            answer = json.loads(r["body"])
        except ValueError:
            continue
        if not isinstance(answer, dict) or "id" not in answer:
            continue
        acked += 1
        row = stored.get(int(answer["id"]))
        if row is None or any(int(row[f]) != int(answer[f]) for f in FIELDS if f in answer):
            lost.append({"at_s": round(r["t"] - origin, 3), "answered": answer, "stored": row})
    mispriced = [{**o, "catalog_price_cents": price.get(int(o["product_id"]))} for o in orders
                 if int(o["total_cents"]) != int(o["quantity"]) * price.get(int(o["product_id"]), -1)]
    evidence: dict[str, Any] = {"orders_stored": len(orders), "answered_200": acked, "lost": len(lost),
                                "mispriced": len(mispriced), "lost_examples": lost[:p.max_examples],
                                "mispriced_examples": mispriced[:p.max_examples]}
    if not orders and not acked:
        return Outcome("unknown", "no order was placed during the run", evidence)
    problems = []
    if lost:
        problems.append(f"{len(lost)} of {acked} orders answered 200 are not stored as answered, e.g. order "
                        f"{lost[0]['answered'].get('id')}")
    if mispriced:
        m = mispriced[0]
        problems.append(f"{len(mispriced)} stored orders are not priced from the catalog, e.g. order {m['id']}: "
                        f"{m['quantity']} x product {m['product_id']} at {m['catalog_price_cents']} stored as {m['total_cents']}")
    if problems:
        return Outcome("failed", "invariant 'orders are stored as answered and priced from the catalog' violated: "
                                 + "; ".join(problems), evidence)
    return Outcome("passed", f"all {acked} orders answered 200 are stored as answered; all {len(orders)} stored orders "
                             f"are priced from the catalog", evidence)
