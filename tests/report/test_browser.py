"""The pages people open, in a real headless Chromium (Debian's chromium + chromium-driver):
a run report, a suite index and a comparison load with no console errors and show what matters.

Screenshots are kept in reports/browser/ (git-ignored) as test artifacts.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import headless_chromium, needs_chromium

from harness.compare import compare_folders, write_comparison
from harness.experiment import load_experiment
from harness.report.suite_report import write_suite_reports
from harness.suite import Job, SuiteResult

from synthetic_runs import EXPERIMENT, build_run

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "reports" / "browser"

pytestmark = [
    pytest.mark.integration,
    needs_chromium,
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with headless_chromium("1280,1000") as driver:
        yield driver


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("base")
    new = tmp_path_factory.mktemp("new")
    build_run(base / "circuit-breaker")
    build_run(new / "circuit-breaker", slow=1.6, errors_every=20)
    exp = load_experiment(EXPERIMENT)
    suite = SuiteResult(new, [Job(exp)], started=1_800_000_000.0, finished=1_800_000_050.0)
    from harness.report.rerender import rerender

    suite.results["circuit-breaker"] = rerender(new / "circuit-breaker")
    suite.comparison = compare_folders(base, new)
    write_suite_reports(suite)
    write_comparison(suite.comparison, new)
    return {"run": new / "circuit-breaker" / "report.html", "suite": new / "index.html", "comparison": new / "comparison.html"}


def open_page(driver, path: Path, shot: str, scroll_to: str | None = None) -> str:  # type: ignore[no-untyped-def]
    driver.get(path.as_uri())
    if scroll_to:
        driver.execute_script(f"document.querySelector({scroll_to!r}).scrollIntoView()")
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / shot))
    return str(driver.find_element("tag name", "body").text)


def test_the_run_report_opens_offline_with_its_endpoint_table(browser, folders: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    text = open_page(browser, folders["run"], "run-report.png", scroll_to="section:has(table.endpoints)")
    assert "Endpoints" in text and "during payments-slow" in text and "POST /orders" in text
    assert "Fault timeline" in text


def test_the_suite_index_shows_verdicts_score_and_links(browser, folders: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    text = open_page(browser, folders["suite"], "suite-index.png")
    assert "resilience score" in text and "circuit-breaker" in text
    link = browser.find_element("link text", "circuit-breaker")
    assert link.get_attribute("href").endswith("circuit-breaker/report.html")


def test_the_comparison_flags_the_regression(browser, folders: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    text = open_page(browser, folders["comparison"], "comparison.png")
    assert "REGRESSED" in text and "regression" in text
