"""What a well-formed web page and mobile card are, partial or not; the locustfile judges answers with it.

Kept apart from the locustfile so it can be tested without importing Locust (which patches
the whole process for gevent). Each function returns why an answer is malformed, or None.
"""
from __future__ import annotations

STATUSES = {"ok", "timeout", "error"}


def expected_rating(pid: int) -> dict:
    """The rating summary of product ``pid``'s reviews, as the reviews backend holds them."""
    ratings = [1 + (pid + n) % 5 for n in range(pid % 5 + 1)]
    return {"count": len(ratings), "average": round(sum(ratings) / len(ratings), 2)}


def expected_recommendations(pid: int) -> list[int]:
    return [(pid * 7 + n) % 1000 for n in range(1, 6)]


def expected_price(pid: int) -> float:
    return round(5 + pid % 200 + 0.99, 2)


def _envelope_problem(doc: dict, required_parts: set[str]) -> str | None:
    parts = doc.get("parts")
    if not isinstance(parts, dict) or not required_parts <= set(parts):
        return f"'parts' must give a status for each of {', '.join(sorted(required_parts))}"
    if any(not isinstance(p, dict) or p.get("status") not in STATUSES for p in parts.values()):
        return "a part has no valid status"
    missing = sorted(name for name, p in parts.items() if p["status"] != "ok")
    if doc.get("missing") != missing:
        return f"'missing' is {doc.get('missing')!r} but parts not ok are {missing!r}"
    if doc.get("partial") is not bool(missing):
        return f"'partial' is {doc.get('partial')!r} with missing {missing!r}"
    return None


def _present_iff_ok(doc: dict, field: str, part: str) -> str | None:
    ok = doc["parts"][part]["status"] == "ok"
    if (doc.get(field) is not None) != ok:
        return f"'{field}' is {'absent' if ok else 'there'} while part '{part}' is {doc['parts'][part]['status']}"
    return None


def web_page_problem(doc: object, pid: int | None = None) -> str | None:
    """Why ``doc`` is not a well-formed web page (of product ``pid``, when given), or None."""
    if not isinstance(doc, dict):
        return "answer is not a JSON object"
    product = doc.get("product")
    if not isinstance(product, dict) or not {"id", "name", "price", "description", "images"} <= set(product):
        return "the web page needs the full product (id, name, price, description, images)"
    problem = _envelope_problem(doc, {"catalog", "reviews"}) or _present_iff_ok(doc, "reviews", "reviews")
    if problem or pid is None:
        return problem
    if product["id"] != pid:
        return f"the page is about product {product['id']!r}, asked for {pid}"
    if product["price"] != expected_price(pid):
        return f"product {pid} costs {expected_price(pid)}, the page says {product['price']!r}"
    reviews = doc.get("reviews")
    if reviews is not None and (not isinstance(reviews, list) or len(reviews) != pid % 5 + 1 or any(
            not isinstance(r, dict) or not str(r.get("text", "")).endswith(f" of {pid}") for r in reviews)):
        return f"the reviews are not product {pid}'s: {str(reviews)[:80]}"
    return None


def mobile_card_problem(doc: object, pid: int | None = None) -> str | None:
    """Why ``doc`` is not a well-formed mobile card (of product ``pid``, when given), or None."""
    if not isinstance(doc, dict):
        return "answer is not a JSON object"
    if not {"id", "name", "price"} <= set(doc):
        return "the mobile card needs id, name and price"
    problem = (_envelope_problem(doc, {"catalog", "reviews", "recommendations"})
               or _present_iff_ok(doc, "rating", "reviews") or _present_iff_ok(doc, "recommended", "recommendations"))
    if problem:
        return problem
    if doc.get("recommended") is not None and len(doc["recommended"]) > 3:
        return "the mobile card carries at most 3 recommendations"
    if pid is not None:
        if doc["id"] != pid or doc["name"] != f"Product {pid}":
            return f"the card is about product {doc['id']!r} ({doc['name']!r}), asked for {pid}"
        if doc["price"] != expected_price(pid):
            return f"product {pid} costs {expected_price(pid)}, the card says {doc['price']!r}"
        if doc.get("thumbnail") != f"https://img.example.test/{pid}/0.jpg":
            return f"the thumbnail of product {pid} is its first image, the card shows {doc.get('thumbnail')!r}"
        rating, recs = doc.get("rating"), doc.get("recommended")
        if rating is not None and rating != expected_rating(pid):
            return f"the rating of product {pid} is {expected_rating(pid)}, the card says {rating!r}"
        if recs is not None and recs != expected_recommendations(pid)[:3]:
            return f"the recommendations for {pid} are {expected_recommendations(pid)[:3]}, the card says {recs!r}"
    return None
