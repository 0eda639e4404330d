"""The translation at the heart of the anti-corruption layer: legacy record -> domain customer.

Legacy (see legacy.py)                      Domain
    CUSTNO=00000123                      ->   id: "123"
    NM=SMITH, JOHN                       ->   name: "John Smith"
    OPNDT=20190314                       ->   opened_on: "2019-03-14"
    BALCTS=+000123456, CCY=USD           ->   balance: {amount: "1234.56", currency: "USD"}
    STATCD=A | S | C                     ->   status: active | suspended | closed

``translate`` checks everything first: the record is complete (its ``;END`` terminator came),
each field is there exactly once and has its legacy format, the customer is the one asked
for. Anything else raises ``LegacyRecordError``, so nothing half-read reaches the domain.
``translate_unchecked`` is the "pass-through" defect: it maps whatever fields it finds and
keeps raw values where a conversion fails, as mapping code without validation does.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

TERMINATOR = ";END"
STATUS = {"A": "active", "S": "suspended", "C": "closed"}
REQUIRED = ("RC", "CUSTNO", "NM", "OPNDT", "BALCTS", "STATCD", "CCY")
FORMATS = {
    "CUSTNO": re.compile(r"\d{8}"),
    "NM": re.compile(r"[A-Z][A-Z'\-]*, [A-Z][A-Z'\-]*"),
    "OPNDT": re.compile(r"\d{8}"),
    "BALCTS": re.compile(r"[+-]\d{9}"),
    "STATCD": re.compile(r"[ASC]"),
    "CCY": re.compile(r"[A-Z]{3}"),
}


class LegacyRecordError(Exception):
    """The legacy answer cannot be trusted; ``reason`` is "truncated" or "malformed"."""

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


class NoSuchCustomer(Exception):
    pass


def request_line(customer_id: int) -> bytes:
    return f"INQ CUST {customer_id:08d}\n".encode("ascii")


def _fields(text: str) -> list[tuple[str, str]]:
    return [tuple(part.split("=", 1)) for part in text.split(";") if "=" in part]  # type: ignore[misc]


def parse_record(raw: bytes, customer_id: int) -> dict[str, str]:
    """The fields of one complete, well-formed record for ``customer_id``; raises otherwise."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise LegacyRecordError("malformed", "the record is not ASCII") from None
    if not text.endswith("\n"):
        raise LegacyRecordError("truncated", f"the record ended after {len(raw)} bytes without its line end")
    text = text[:-1]
    if not text.endswith(TERMINATOR):
        raise LegacyRecordError("truncated", f"no {TERMINATOR} terminator in {text[-20:]!r}")
    pairs = _fields(text[: -len(TERMINATOR)])
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise LegacyRecordError("malformed", "a field appears twice")
    rc = fields.get("RC")
    if rc == "04":
        raise NoSuchCustomer(customer_id)
    if rc != "00":
        raise LegacyRecordError("malformed", f"return code {rc!r}")
    missing = [k for k in REQUIRED if k not in fields]
    if missing:
        raise LegacyRecordError("malformed", f"fields missing: {', '.join(missing)}")
    for key, pattern in FORMATS.items():
        if not pattern.fullmatch(fields[key]):
            raise LegacyRecordError("malformed", f"{key}={fields[key]!r} is not in the legacy format")
    if int(fields["CUSTNO"]) != customer_id:
        raise LegacyRecordError("malformed", f"asked for customer {customer_id}, got {int(fields['CUSTNO'])}")
    try:
        dt.datetime.strptime(fields["OPNDT"], "%Y%m%d")
    except ValueError:
        raise LegacyRecordError("malformed", f"OPNDT={fields['OPNDT']!r} is not a date") from None
    return fields


def translate(raw: bytes, customer_id: int) -> dict[str, Any]:
    f = parse_record(raw, customer_id)
    return {
        "id": str(int(f["CUSTNO"])),
        "name": _name(f["NM"]),
        "opened_on": dt.datetime.strptime(f["OPNDT"], "%Y%m%d").date().isoformat(),
        "balance": {"amount": _amount(f["BALCTS"]), "currency": f["CCY"]},
        "status": STATUS[f["STATCD"]],
    }


def translate_unchecked(raw: bytes, customer_id: int) -> dict[str, Any]:
    """The defect: map what is there, keep what does not convert, never look at completeness."""
    f = dict(_fields(raw.decode("ascii", errors="replace").strip()))
    if f.get("RC") == "04":
        raise NoSuchCustomer(customer_id)
    date = f.get("OPNDT")
    return {
        "id": _loose(lambda v: str(int(v)), f.get("CUSTNO")),
        "name": _loose(_name, f.get("NM")),
        "opened_on": f"{date[0:4]}-{date[4:6]}-{date[6:8]}" if date else None,
        "balance": {"amount": _loose(_amount, f.get("BALCTS")), "currency": f.get("CCY")},
        "status": STATUS.get(f.get("STATCD", ""), f.get("STATCD")),
    }


def _name(nm: str) -> str:
    last, _, first = nm.partition(", ")
    return " ".join(part.title() for part in (first, last) if part)


def _amount(cents: str) -> str:
    return str((Decimal(int(cents)) / 100).quantize(Decimal("0.01")))


def _loose(convert: Any, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return convert(value)
    except (ValueError, ArithmeticError):
        return value
