"""Collecting the series PromQL checks judge, from a (fake) Prometheus into journal records."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.checks import check_types
from harness.checks.promql import PromqlParams
from harness.experiment import CheckSpec, ExperimentSpec
from harness.journal import History
from harness.metrics.collect import collect_series, reads_metrics

T0 = 1_000_000.0
URL = "http://127.0.0.1:9"
QUERY = "sum(rate(calls_total[5s]))"


def history(*, prometheus: bool = True, fault: tuple[float, float] | None = (10.0, 20.0)) -> History:
    recs: list[dict[str, Any]] = [
        {"kind": "run_started", "t": T0 - 1, "steady_state": {"warmup": 1.0, "settle": 2.0}},
        {"kind": "load_started", "t": T0},
    ]
    if prometheus:
        recs.append({"kind": "prometheus_started", "t": T0 - 0.5, "url": URL, "scrape_interval": 1.0})
    if fault is not None:
        recs.append({"kind": "fault_applied", "t": T0 + fault[0], "fault": "f", "type": "latency", "target": "a->b"})
        recs.append({"kind": "fault_removed", "t": T0 + fault[1], "fault": "f"})
    recs.append({"kind": "load_stopped", "t": T0 + 30})
    return History(recs)


def params(**kw: Any) -> PromqlParams:
    return PromqlParams(query=QUERY, window={"during": "f"}, **kw)


def experiment(*checks: PromqlParams) -> ExperimentSpec:
    exp = ExperimentSpec.model_validate({"name": "e", "system": "s", "load": {"duration": 30}})
    for i, p in enumerate(checks):
        spec = CheckSpec(type="promql", name=f"p{i}")
        spec.parsed_params = p
        exp.checks.append(spec)
    return exp


def test_an_experiment_with_a_promql_check_reads_metrics_and_one_without_does_not() -> None:
    assert reads_metrics(experiment(params(max=1)))
    assert not reads_metrics(experiment())


def test_collect_records_nothing_without_prometheus_or_window() -> None:
    h = history(prometheus=False)
    assert collect_series(experiment(params(max=1)), h) == []
    h = history(fault=None)
    assert collect_series(experiment(params(max=1)), h) == []


def test_a_crashing_collect_step_becomes_a_collect_error_record(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any) -> list[dict[str, Any]]:
        raise RuntimeError("boom")

    monkeypatch.setattr(check_types.get("promql"), "series", boom)
    spec = CheckSpec(type="promql", name="p")
    spec.parsed_params = params(max=1)
    exp = ExperimentSpec.model_validate({"name": "e", "system": "s", "load": {"duration": 30}})
    exp.checks = [spec]
    [rec] = collect_series(exp, history())
    assert rec["kind"] == "collect_error" and rec["check"] == "p" and rec["error"] == "RuntimeError: boom"
    assert isinstance(rec["t"], float)


def test_collect_then_evaluate_judges_a_steady_state_condition_over_before_and_after(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.checks import evaluate
    from harness.metrics import query

    asked: list[tuple[str, float, float]] = []

    def fake_query_range(url: str, q: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        asked.append((q, start - T0, end - T0))
        return [{"labels": {}, "values": [[float(t), 1.0] for t in range(int(start), int(end) + 1)]}]

    monkeypatch.setattr(query, "query_range", fake_query_range)
    spec = CheckSpec(type="promql", name="up")
    spec.parsed_params = PromqlParams(query="min(up)", min=1)
    exp = ExperimentSpec.model_validate({"name": "e", "system": "s", "load": {"duration": 30}})
    exp.steady_state.conditions = [spec]
    h = history()
    records = collect_series(exp, h)
    assert [(r["window"], r["query"]) for r in records] == [("before", "min(up)"), ("after", "min(up)")]
    assert asked == [("min(up)", 1.0, 10.0), ("min(up)", 22.0, 30.0)]  # warmup 1 s, settle 2 s
    results = evaluate(exp, History(h.records + records))
    assert [(r.name, r.verdict) for r in results] == [("steady-state before: up", "passed"),
                                                      ("steady-state after: up", "passed")]


def test_no_check_module_imports_a_network_client_or_the_metrics_side() -> None:
    """Checks are pure functions of the journal: only the metrics side asks Prometheus."""
    import harness.checks

    io_import = re.compile(r"^\s*(from|import)\s+(httpx|requests|socket|prometheus_api_client|harness\.metrics|\.\.metrics)\b",
                           re.MULTILINE)
    checks_dir = Path(harness.checks.__file__).parent
    assert [p.name for p in sorted(checks_dir.glob("*.py")) if io_import.search(p.read_text())] == []
