"""What a well-formed dashboard answer is, partial or not; the locustfile judges answers with it.

Kept apart from the locustfile so it can be tested without importing Locust (which patches
the whole process for gevent).
"""
from __future__ import annotations

import zlib

PARTS = ("profile", "orders", "loyalty")
TIERS = ("bronze", "silver", "gold")
STATUSES = {"ok", "timeout", "error"}


def inconsistency(doc, user_id: str | None = None) -> str | None:
    """Why this answer is not a well-formed (possibly partial) dashboard of ``user_id``, or None.

    With ``user_id`` the content is checked too: each part that is there must be about that
    user (a part fetched for another user, or another part's data in its place, is wrong).
    """
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
    return None if user_id is None else content_problem(doc, str(user_id))


def expected_parts(user_id: str) -> dict:
    """What each part holds for ``user_id`` (the parts' data is a pure function of the id)."""
    seed = zlib.crc32(user_id.encode())
    return {"profile": {"user_id": user_id, "name": f"User {user_id}", "email": f"user{user_id}@example.test"},
            "orders": [{"order_id": f"{user_id}-{i}", "total": round(10 + (seed + i) % 90 + 0.5, 2)} for i in range(seed % 4)],
            "loyalty": {"tier": TIERS[seed % 3], "points": seed % 5000}}


def content_problem(doc: dict, user_id: str) -> str | None:
    """Why a well-formed dashboard is not about ``user_id``, or None."""
    if str(doc.get("user_id")) != user_id:
        return f"dashboard of user {doc.get('user_id')!r}, asked for {user_id!r}"
    profile, orders, loyalty = doc.get("profile"), doc.get("orders"), doc.get("loyalty")
    if profile is not None and (not isinstance(profile, dict) or profile.get("user_id") != user_id):
        return f"profile is not user {user_id}'s: {str(profile)[:80]}"
    if orders is not None and (not isinstance(orders, list) or any(
            not isinstance(o, dict) or not str(o.get("order_id", "")).startswith(f"{user_id}-") for o in orders)):
        return f"orders are not user {user_id}'s: {str(orders)[:80]}"
    if loyalty is not None and (not isinstance(loyalty, dict) or loyalty.get("tier") not in TIERS
                                or not isinstance(loyalty.get("points"), int)):
        return f"loyalty is not a loyalty record: {str(loyalty)[:80]}"
    want = expected_parts(user_id)
    for name in PARTS:
        if doc.get(name) is not None and doc[name] != want[name]:
            return f"{name} of user {user_id} differs from what the part holds: {str(doc[name])[:80]}"
    return None
