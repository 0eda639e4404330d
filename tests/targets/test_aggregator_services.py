"""The aggregator target as real processes: complete, partial (slow part, down part), wait-for-all."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import httpx
import pytest

from edge_services import ROOT, Procs, dead_url, hanging_url, timed_get

TARGET = "aggregator"


def load_dashboard_check():
    path = ROOT / "targets" / TARGET / "dashboard_check.py"
    spec = importlib.util.spec_from_file_location("aggregator_dashboard_check", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


inconsistency = load_dashboard_check().inconsistency


@pytest.fixture
def procs():
    p = Procs(TARGET)
    try:
        yield p
    finally:
        p.stop_all()


def start_aggregator(procs: Procs, urls: dict[str, str] | None = None, **env: str):
    """The aggregator over real parts, except those given a URL of their own in ``urls``."""
    urls = urls or {}
    parts = {name: urls.get(name) or procs.start("part.py", name, PART=name).url for name in ("profile", "orders", "loyalty")}
    part_env = {f"{name.upper()}_URL": url for name, url in parts.items()}
    return procs.start("aggregator.py", "aggregator", PART_DEADLINE="0.5", **part_env, **env)


COMPLETE = {"user_id": "7", "profile": {"name": "x"}, "orders": [], "loyalty": {"tier": "gold"},
            "parts": {"profile": {"status": "ok"}, "orders": {"status": "ok"}, "loyalty": {"status": "ok"}},
            "partial": False, "missing": []}


def test_the_locustfile_judge_accepts_honest_answers_and_names_dishonest_ones() -> None:
    assert inconsistency(COMPLETE) is None
    partial = {**COMPLETE, "loyalty": None, "partial": True, "missing": ["loyalty"],
               "parts": {**COMPLETE["parts"], "loyalty": {"status": "timeout"}}}
    assert inconsistency(partial) is None
    assert inconsistency({**partial, "partial": False}) == "'partial' is False with missing ['loyalty']"
    assert inconsistency({**partial, "missing": []}) == "'missing' is [] but parts not ok are ['loyalty']"
    assert inconsistency({**COMPLETE, "orders": None}) == "part 'orders' is ok but its data is absent"
    assert inconsistency({**partial, "loyalty": {"tier": "gold"}}) == "part 'loyalty' is missing but its data is there"
    assert inconsistency({**COMPLETE, "parts": {"profile": {"status": "ok"}}}).startswith("'parts' must give a status")


def test_the_locustfile_judge_names_parts_about_someone_else() -> None:
    mine = {**COMPLETE, **load_dashboard_check().expected_parts("7")}
    assert inconsistency(mine, "7") is None
    assert inconsistency(mine, "8") == "dashboard of user '7', asked for '8'"
    swapped = {**mine, "profile": {"user_id": "9", "name": "User 9"}}
    assert inconsistency(swapped, "7") == "profile is not user 7's: {'user_id': '9', 'name': 'User 9'}"
    # Another part's data in a part's place (a fan-out that called the wrong part).
    assert inconsistency({**mine, "orders": [{"tier": "gold"}]}, "7").startswith("orders are not user 7's")
    assert inconsistency({**mine, "loyalty": {"user_id": "7"}}, "7").startswith("loyalty is not a loyalty record")
    points = {**mine, "loyalty": {**mine["loyalty"], "points": mine["loyalty"]["points"] + 1}}
    assert inconsistency(points, "7").startswith("loyalty of user 7 differs from what the part holds")


@pytest.mark.integration
def test_a_complete_dashboard_carries_every_part_and_its_status(procs) -> None:
    agg = start_aggregator(procs)
    with httpx.Client(timeout=10) as client:
        r = client.get(agg.url + "/dashboard/42")
    doc = r.json()
    assert r.status_code == 200 and inconsistency(doc, "42") is None
    assert doc["partial"] is False and doc["profile"]["user_id"] == "42"
    assert agg.events("part_status") == []


@pytest.mark.integration
def test_a_hung_part_is_left_out_after_the_deadline_and_marked(procs) -> None:
    with hanging_url() as hung:
        agg = start_aggregator(procs, {"loyalty": hung})
        with httpx.Client(timeout=10) as client:
            answers = [timed_get(client, agg.url + "/dashboard/42") for _ in range(3)]
    for r, took in answers:
        doc = r.json()
        assert r.status_code == 200 and inconsistency(doc) is None
        assert doc["missing"] == ["loyalty"] and doc["parts"]["loyalty"]["status"] == "timeout"
        assert 0.45 <= took < 1.5, f"answered in {took:.2f}s with a 0.5 s per-part deadline"
    assert [(e["part"], e["status"]) for e in agg.events("part_status")] == [("loyalty", "timeout")]


@pytest.mark.integration
def test_a_down_part_makes_a_partial_answer_at_once(procs) -> None:
    agg = start_aggregator(procs, {"orders": dead_url()})
    with httpx.Client(timeout=10) as client:
        r, took = timed_get(client, agg.url + "/dashboard/42")
    assert r.status_code == 200 and r.json()["missing"] == ["orders"] and took < 0.45
    assert r.json()["parts"]["orders"]["status"] == "error"


@pytest.mark.integration
def test_with_every_part_down_the_answer_is_an_error_that_names_them(procs) -> None:
    agg = procs.start("aggregator.py", "aggregator", PROFILE_URL=dead_url(), ORDERS_URL=dead_url(), LOYALTY_URL=dead_url())
    with httpx.Client(timeout=10) as client:
        r = client.get(agg.url + "/dashboard/1")
    assert r.status_code == 503 and r.json()["missing"] == ["loyalty", "orders", "profile"]


@pytest.mark.integration
def test_wait_for_all_fails_the_answer_when_a_part_is_down(procs) -> None:
    agg = start_aggregator(procs, {"orders": dead_url()}, WAIT_FOR_ALL="true")
    with httpx.Client(timeout=10) as client:
        r = client.get(agg.url + "/dashboard/42")
    assert r.status_code == 502 and r.json()["error"] == "a part is missing"


@pytest.mark.integration
def test_a_part_refuses_to_start_without_a_known_part_name() -> None:
    proc = subprocess.run([sys.executable, "part.py"], cwd=ROOT / "targets" / TARGET, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "targets" / "_shared"), "PART": "prices"},
                          timeout=30)
    assert proc.returncode != 0 and "PART='prices': expected one of profile, orders, loyalty" in proc.stderr
