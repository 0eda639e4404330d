"""The BFF target: its payload judge, and both BFFs as real processes with recommendations hung."""
from __future__ import annotations

import importlib.util

import httpx
import pytest

from edge_services import ROOT, Procs, dead_url, hanging_url, timed_get


def _load_payload_check():
    spec = importlib.util.spec_from_file_location("bff_payload_check", ROOT / "targets" / "bff" / "payload_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load_payload_check()
OK = {"status": "ok", "ms": 2.0}
CARD = {"id": 7, "name": "Product 7", "price": 12.99, "thumbnail": "x.jpg", "rating": {"count": 3, "average": 4.0},
        "recommended": [1, 2, 3], "parts": {"catalog": OK, "reviews": OK, "recommendations": OK},
        "partial": False, "missing": []}
PAGE = {"product": {"id": 7, "name": "P", "price": 1.0, "description": "d", "images": []}, "reviews": [],
        "parts": {"catalog": OK, "reviews": OK}, "partial": False, "missing": []}


def test_the_judge_names_answers_about_another_product() -> None:
    card = {**CARD, "rating": {"count": 3, "average": 4.0}, "recommended": [50, 51, 52],  # product 7's, per the backends
            "thumbnail": "https://img.example.test/7/0.jpg"}
    assert check.mobile_card_problem(card, 7) is None
    assert check.mobile_card_problem(card, 8) == "the card is about product 7 ('Product 7'), asked for 8"
    assert check.mobile_card_problem({**card, "recommended": [51, 52, 53]}, 7) == (
        "the recommendations for 7 are [50, 51, 52], the card says [51, 52, 53]")
    assert check.mobile_card_problem({**card, "rating": {"count": 3, "average": 3.0}}, 7) == (
        "the rating of product 7 is {'count': 3, 'average': 4.0}, the card says {'count': 3, 'average': 3.0}")
    assert check.mobile_card_problem({**card, "price": 13.99}, 7) == "product 7 costs 12.99, the card says 13.99"
    assert check.mobile_card_problem({**card, "thumbnail": "https://img.example.test/7/1.jpg"}, 7).startswith(
        "the thumbnail of product 7 is its first image")
    reviews = [{"author": "r", "rating": 3, "text": f"Review {n} of 7"} for n in range(3)]
    page = {**PAGE, "product": {**PAGE["product"], "price": 12.99}, "reviews": reviews}
    assert check.web_page_problem(page, 7) is None
    assert check.web_page_problem(page, 9) == "the page is about product 7, asked for 9"
    other = {**page, "reviews": [{"author": "r", "rating": 3, "text": f"Review {n} of 8"} for n in range(3)]}
    assert check.web_page_problem(other, 7).startswith("the reviews are not product 7's")


def test_the_judge_accepts_full_and_honest_partial_answers() -> None:
    assert check.mobile_card_problem(CARD) is None
    partial = {**CARD, "recommended": None, "partial": True, "missing": ["recommendations"],
               "parts": {**CARD["parts"], "recommendations": {"status": "timeout", "ms": 400.0}}}
    assert check.mobile_card_problem(partial) is None
    assert check.web_page_problem(PAGE) is None


def test_the_judge_names_what_is_wrong() -> None:
    silent = {**CARD, "recommended": None}
    assert check.mobile_card_problem(silent) == "'recommended' is absent while part 'recommendations' is ok"
    unflagged = {**CARD, "missing": ["recommendations"], "parts": {**CARD["parts"], "recommendations": {"status": "error"}}}
    assert check.mobile_card_problem(unflagged) == "'partial' is False with missing ['recommendations']"
    assert check.mobile_card_problem({**CARD, "recommended": [1, 2, 3, 4]}) == "the mobile card carries at most 3 recommendations"
    assert check.mobile_card_problem({"id": 1}) == "the mobile card needs id, name and price"
    assert check.web_page_problem({**PAGE, "product": {"id": 7}}).startswith("the web page needs the full product")
    assert check.web_page_problem({**PAGE, "parts": {"catalog": OK}}) == "'parts' must give a status for each of catalog, reviews"


@pytest.fixture
def procs():
    p = Procs("bff")
    try:
        yield p
    finally:
        p.stop_all()


def start_bffs(procs: Procs, recommendations_url: str, **web_env: str):
    urls = {f"{k.upper()}_URL": procs.start("backend.py", k, KIND=k).url for k in ("catalog", "reviews")}
    urls["RECOMMENDATIONS_URL"] = recommendations_url
    web = procs.start("web_bff.py", "web-bff", PART_DEADLINE="0.8", **urls, **web_env)
    mobile = procs.start("mobile_bff.py", "mobile-bff", PART_DEADLINE="0.4", **urls)
    return web, mobile


@pytest.mark.integration
def test_full_answers_shape_each_front_end_its_own_way(procs) -> None:
    recs = procs.start("backend.py", "recommendations", KIND="recommendations")
    web, mobile = start_bffs(procs, recs.url)
    with httpx.Client(timeout=10) as client:
        page, card = client.get(web.url + "/web/products/7").json(), client.get(mobile.url + "/mobile/products/7").json()
    assert check.web_page_problem(page) is None and page["partial"] is False
    assert len(page["reviews"]) == 3 and "recommendations" not in page["parts"]
    assert check.mobile_card_problem(card) is None and card["partial"] is False
    assert card["rating"] == {"count": 3, "average": 4.0}  # ratings 3, 4, 5 and len(card["recommended"]) == 3


@pytest.mark.integration
def test_hung_recommendations_leave_web_alone_and_make_mobile_partial_in_time(procs) -> None:
    with hanging_url() as hung:
        web, mobile = start_bffs(procs, hung)
        with httpx.Client(timeout=10) as client:
            page, page_s = timed_get(client, web.url + "/web/products/7")
            card, card_s = timed_get(client, mobile.url + "/mobile/products/7")
    assert page.status_code == 200 and page.json()["partial"] is False and page_s < 0.3
    doc = card.json()
    assert card.status_code == 200 and check.mobile_card_problem(doc) is None
    assert doc["missing"] == ["recommendations"] and doc["recommended"] is None and doc["rating"] is not None
    assert 0.35 <= card_s < 1.0
    assert [(e["part"], e["status"]) for e in mobile.events("part_status", at_least=1)] == [("recommendations", "timeout")]
    assert web.events("part_status") == []


@pytest.mark.integration
def test_without_the_catalog_there_is_no_card(procs) -> None:
    recs = procs.start("backend.py", "recommendations", KIND="recommendations")
    mobile = procs.start("mobile_bff.py", "mobile-bff", CATALOG_URL=dead_url(), REVIEWS_URL=recs.url,
                         RECOMMENDATIONS_URL=recs.url)
    with httpx.Client(timeout=10) as client:
        r = client.get(mobile.url + "/mobile/products/7")
    assert r.status_code == 503 and "catalog" in r.json()["missing"]


@pytest.mark.integration
def test_shared_fate_makes_the_web_page_wait_on_recommendations(procs) -> None:
    with hanging_url() as hung:
        web, _ = start_bffs(procs, hung, SHARED_FATE="true")
        with httpx.Client(timeout=2.0) as client, pytest.raises(httpx.ReadTimeout):
            client.get(web.url + "/web/products/7")
