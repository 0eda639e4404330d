"""What the domain must say about a customer, worked out from the system of record alone.

The locustfile judges every answer of the customers service with this: an answer that differs
from what legacy holds (another customer, a balance off by a factor, a status mapped wrongly, a
date garbled, a standing that does not follow from them) is a wrong answer. Written apart from
``legacy_model`` on purpose: the ACL's translation is what is under test, so the oracle must not
share its code. It reads the legacy record line itself (``legacy.record``: the data legacy
serves, a pure function of the customer number).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from legacy import record

STATUSES = {"A": "active", "S": "suspended", "C": "closed"}


def expected(customer_id: int) -> dict[str, Any] | None:
    """The domain answer (``{"customer": ..., "standing": ...}``), or None for no such customer."""
    fields = dict(part.split("=", 1) for part in record(customer_id).split(";") if "=" in part)
    if fields["RC"] != "00":
        return None
    last, first = fields["NM"].split(", ")
    cents = int(fields["BALCTS"])
    opened = fields["OPNDT"]
    status = STATUSES[fields["STATCD"]]
    customer = {
        "id": str(customer_id),
        "name": f"{first.title()} {last.title()}",
        "opened_on": f"{opened[:4]}-{opened[4:6]}-{opened[6:]}",
        "balance": {"amount": f"{Decimal(cents) / 100:.2f}", "currency": fields["CCY"]},
        "status": status,
    }
    standing = "inactive" if status != "active" else ("watch" if cents < 0 else "good")
    return {"customer": customer, "standing": standing}


def difference(answer: Any, customer_id: int) -> str | None:
    """How an answer (200) differs from the system of record, or None."""
    want = expected(customer_id)
    if want is None:
        return f"customer {customer_id} does not exist, yet the domain answered one"
    if not isinstance(answer, dict):
        return "the answer is not a JSON object"
    for key in ("customer", "standing"):
        if key not in answer:
            return f"the answer has no '{key}'"
    got = answer["customer"]
    if not isinstance(got, dict):
        return "'customer' is not an object"
    for field, value in want["customer"].items():
        if got.get(field) != value:
            return f"customer {customer_id}: {field} is {got.get(field)!r}, the record says {value!r}"
    if answer["standing"] != want["standing"]:
        return f"customer {customer_id}: standing is {answer['standing']!r}, the record says {want['standing']!r}"
    return None
