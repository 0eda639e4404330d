"""What a well-formed dashboard answer is, partial or not; the locustfile judges answers with it.

Kept apart from the locustfile so it can be tested without importing Locust (which patches
the whole process for gevent).
"""
from __future__ import annotations

PARTS = ("profile", "orders", "loyalty")
STATUSES = {"ok", "timeout", "error"}


def inconsistency(doc) -> str | None:
    """Why this answer is not a well-formed (possibly partial) dashboard, or None."""
    if not isinstance(doc, dict):
        return "answer is not a JSON object"
    parts = doc.get("parts")
    if not isinstance(parts, dict) or set(parts) != set(PARTS):
        return f"'parts' must give a status for each of {', '.join(PARTS)}"
    if any(not isinstance(p, dict) or p.get("status") not in STATUSES for p in parts.values()):
        return "a part has no valid status"
    missing = sorted(name for name, p in parts.items() if p["status"] != "ok")
    if doc.get("missing") != missing:
        return f"'missing' is {doc.get('missing')!r} but parts not ok are {missing!r}"
    if doc.get("partial") is not bool(missing):
        return f"'partial' is {doc.get('partial')!r} with missing {missing!r}"
    for name in PARTS:
        has_data = doc.get(name) is not None
        if has_data == (name in missing):
            state = "missing" if name in missing else "ok"
            return f"part '{name}' is {state} but its data is {'there' if has_data else 'absent'}"
    return None
