"""harness compare: regressions flagged only beyond noise and tolerance, on runs in the real format."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import build_run

from harness.cli import main
from harness.compare import Tolerance, compare_folders
from harness.data.stats import percentile_samples, rate_samples, rng_for
from harness.data.table import nearest_rank


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    build_run(root / "base")
    build_run(root / "same", errors_every=201)  # another run of the same system: noise only
    build_run(root / "slow", slow=1.5)
    build_run(root / "errors", errors_every=10)
    return {p.name: p for p in root.iterdir()}


def test_the_same_system_twice_flags_nothing(runs: dict[str, Path]) -> None:
    doc = compare_folders(runs["base"], runs["same"])
    assert doc["regressions"] == 0 and doc["rows"]
    assert {r["window"] for r in doc["rows"]} == {"before", "during payments-slow", "after"}


def test_fifty_percent_slower_is_a_latency_regression_but_not_an_error_one(runs: dict[str, Path]) -> None:
    doc = compare_folders(runs["base"], runs["slow"])
    before = next(r for r in doc["rows"] if r["window"] == "before" and r["endpoint"] == "POST /orders")
    assert before["verdict"] == "regression"
    assert before["metrics"]["p50_ms"]["verdict"] == "regression" and before["metrics"]["p50_ms"]["ratio_low"] > 1.1
    assert before["metrics"]["error_rate"]["verdict"] == "same"


def test_a_wide_enough_tolerance_absorbs_the_same_slowdown(runs: dict[str, Path]) -> None:
    doc = compare_folders(runs["base"], runs["slow"], Tolerance(latency_ratio=0.6))
    assert doc["regressions"] == 0


def test_more_errors_is_an_error_rate_regression(runs: dict[str, Path]) -> None:
    doc = compare_folders(runs["base"], runs["errors"])
    flagged = {(r["endpoint"], r["window"]) for r in doc["rows"] if r["metrics"].get("error_rate", {}).get("verdict") == "regression"}
    assert ("POST /orders", "during payments-slow") in flagged


def test_the_cli_writes_both_files_and_fails_only_when_asked(runs: dict[str, Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(runs["base"]), str(runs["slow"]), "--out", str(tmp_path)]) == 0
    assert main(["compare", str(runs["base"]), str(runs["slow"]), "--out", str(tmp_path), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "regression: p50_ms" in out and (tmp_path / "comparison.html").is_file()
    assert json.loads((tmp_path / "comparison.json").read_text())["regressions"] > 0


def test_a_folder_that_is_not_a_run_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    assert "neither a run folder" in capsys.readouterr().err


def test_the_order_statistic_bootstrap_matches_resampling() -> None:
    """The O(B) shortcut draws from the same distribution as resampling n values B times."""
    rng = np.random.default_rng(1)
    values = np.sort(rng.lognormal(3, 0.5, 400))
    fast = percentile_samples(values, 95, rng_for(1, "x"), b=4000)
    slow = np.array([nearest_rank(np.sort(rng.choice(values, len(values))), 95) for _ in range(4000)])
    assert abs(np.quantile(fast, 0.025) - np.quantile(slow, 0.025)) < 0.02 * np.median(slow)
    assert abs(np.quantile(fast, 0.975) - np.quantile(slow, 0.975)) < 0.02 * np.median(slow)
    rates = rate_samples(30, 1000, rng_for(1, "y"), b=4000)
    assert 0.019 < np.quantile(rates, 0.025) < 0.021 and 0.040 < np.quantile(rates, 0.975) < 0.042


def test_a_run_with_a_baseline_carries_the_comparison_and_fails_on_regression(
        runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.runner
    from synthetic_runs import EXPERIMENT

    monkeypatch.setattr(harness.runner, "run_experiment", lambda exp, opts: build_run(opts.out, slow=1.5))
    args = ["run", str(EXPERIMENT), "--out", str(tmp_path / "new"), "--baseline", str(runs["base"]), "--quiet"]
    assert main(args) == 0  # the run itself passes; a regression alone does not fail it...
    assert main([*args, "--fail-on-regression"]) == 1  # ...unless asked
    doc = json.loads((tmp_path / "new" / "result.json").read_text())
    assert doc["comparison"]["regressions"] > 0
    assert "Compared with the baseline" in (tmp_path / "new" / "report.html").read_text()
