"""RequestTable: window and endpoint selection, statistics and per-second series match the record semantics."""
from __future__ import annotations

import math

import numpy as np
import pytest

from harness.checks.selection import RequestFilter, percentile, select_requests
from harness.checks.windows import Window
from harness.data import RequestTable


def recs() -> list[dict]:
    out = []
    for k in range(100):
        out.append({"kind": "request", "t": 100.0 + k * 0.1, "name": "GET /a" if k % 2 else "POST /b",
                    "method": "GET" if k % 2 else "POST", "ms": float(k + 1),
                    "outcome": "fail" if k % 10 == 0 else ("info" if k % 10 == 5 else "ok"), "status": 200})
    return out


@pytest.fixture
def table() -> RequestTable:
    return RequestTable.from_records(recs())


def test_between_is_half_open_on_start_times(table: RequestTable) -> None:
    sub = table.between(101.0, 102.0)
    assert len(sub) == 10 and sub.t[0] == pytest.approx(101.0) and sub.t[-1] < 102.0


def test_a_window_that_counts_only_finished_requests_drops_those_still_running_at_its_end(table: RequestTable) -> None:
    w = Window("before", 100.0, 101.0, finished_by_end=True)
    kept = w.select(table)
    expected = [r for r in recs() if w.holds_request(r)]
    assert len(kept) == len(expected) and list(kept.t) == [r["t"] for r in expected]


def test_filters_match_the_record_by_record_semantics(table: RequestTable) -> None:
    for flt in (RequestFilter(name="GET /a"), RequestFilter(method="post"), RequestFilter(name_regex="^POST"),
                RequestFilter(name="GET /a", method="POST")):
        assert len(flt.select(table)) == sum(1 for r in recs() if flt.matches(r)), flt


def test_statistics_are_nearest_rank_like_the_list_version(table: RequestTable) -> None:
    ms = sorted(r["ms"] for r in recs())
    for q in (50, 95, 99, 100, 0.1):
        assert table.percentile(q) == percentile(ms, q)
    assert table.stats() == {"requests": 100, "failed": 10, "indeterminate": 10, "p50_ms": 50.0, "p95_ms": 95.0,
                             "p99_ms": 99.0, "max_ms": 100.0}
    assert table.error_rate() == 0.2 and table.error_rate(count_indeterminate=False) == 0.1


def test_selections_chain_and_old_style_lists_still_work(table: RequestTable) -> None:
    w = Window("all", 100.0, 105.0)
    a = select_requests(table, w, RequestFilter(name="GET /a"))
    b = select_requests(recs(), w, RequestFilter(name="GET /a"))
    assert len(a) == len(b) == 25 and a.stats() == b.stats()


def test_slowest_and_rows_give_journal_shaped_records(table: RequestTable) -> None:
    top = [r["ms"] for r in table.slowest(3)]
    assert top == [100.0, 99.0, 98.0]
    first = next(iter(table))
    assert first == {"kind": "request", "t": 100.0, "name": "POST /b", "method": "POST", "ms": 1.0, "outcome": "fail",
                     "status": 200, "error": None, "bytes": None}


def test_per_second_series_counts_and_percentiles(table: RequestTable) -> None:
    s = table.per_second(100.0, 110.0)
    assert list(s["requests"]) == [10] * 10
    assert list(s["failures"]) == [1] * 10 and list(s["indeterminate"]) == [1] * 10
    assert s["p50_ms"][0] == 5.0 and s["p95_ms"][0] == 10.0 and s["max_ms"][9] == 100.0


def test_concat_merges_endpoint_ids_and_keeps_no_error_as_none() -> None:
    a = RequestTable.from_records([{"t": 2.0, "name": "x", "method": "GET", "ms": 1.0, "outcome": "ok"}])
    b = RequestTable.from_records([{"t": 1.0, "name": "y", "method": "GET", "ms": 1.0, "outcome": "fail", "error": "boom"},
                                   {"t": 3.0, "name": "x", "method": "GET", "ms": 1.0, "outcome": "ok"}])
    merged = RequestTable.concat([a, b])
    assert [(r["t"], r["name"], r["error"]) for r in merged] == [(1.0, "y", "boom"), (2.0, "x", None), (3.0, "x", None)]


def test_an_empty_table_answers_without_crashing() -> None:
    empty = RequestTable.empty()
    assert len(empty) == 0 and not empty and empty.stats() == {"requests": 0, "failed": 0, "indeterminate": 0}
    assert empty.where(name="x").count == 0 and empty.error_rate() is None
    assert list(empty.per_second(0.0, 3.0)["requests"]) == [0, 0, 0]
    with pytest.raises(ValueError):
        empty.percentile(50)
    assert math.isnan(float(np.nan))
