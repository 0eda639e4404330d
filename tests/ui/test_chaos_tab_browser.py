"""The Chaos tab in a real headless Chromium (Debian's chromium + chromium-driver, Selenium from PyPI):
``harness ui`` on the circuit-breaker system; start a swarm in Locust's own form, open the Chaos tab,
apply a latency fault on orders->payments from its generated form, see the breaker open in the tab's
event list, remove the fault, stop. The run folder's report shows the fault window and the breaker.

Screenshots are kept in reports/browser/ (git-ignored) as test artifacts.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import headless_chromium, needs_chromium

from harness.net import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "reports" / "browser"
EDGE = "orders->payments"

pytestmark = [
    pytest.mark.integration,
    needs_chromium,
]


@pytest.fixture
def browser() -> Iterator[Any]:
    with headless_chromium("1400,1300") as driver:
        yield driver


def until(what: str, probe: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the page is still being drawn
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


def test_the_chaos_tab_applies_a_fault_sees_the_breaker_open_and_removes_it(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    run_dir, port = tmp_path / "run", free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "ui", "experiments/circuit-breaker.yaml",
                             "--web-port", str(port), "--out", str(run_dir), "--quiet"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        until("Locust's web UI", lambda: proc.poll() is None and httpx.get(url).status_code == 200, 90)
        browser.get(url)
        # Locust's own start form: users (16), ramp-up and host are pre-filled from the experiment.
        users = until("the start form", lambda: browser.find_element(By.NAME, "userCount"), 20)
        assert users.get_attribute("value") == "16"
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        tab = until("the Chaos tab", lambda: browser.find_element(By.XPATH, "//*[@role='tab'][.//span[text()='Chaos']]"), 20)
        tab.click()
        until("the chaos panel", lambda: browser.find_element(By.ID, "chaos-panel").is_displayed(), 10)
        until("the generated form", lambda: browser.find_element(By.ID, "chaos-attr-latency"), 10)
        # Every fault type of the registry is offered.
        offered = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#chaos-type option")]
        assert {"latency", "http_status", "kill", "down"} <= set(offered)
        until("requests", lambda: httpx.get(url + "stats/requests").json()["stats"][-1]["num_requests"] > 30, 30)

        latency = browser.find_element(By.ID, "chaos-attr-latency")
        latency.clear()  # the schema's default (0) is pre-filled
        latency.send_keys("800ms")
        browser.find_element(By.ID, "chaos-name").send_keys("slow")
        assert browser.find_element(By.ID, "chaos-target").get_attribute("value") == EDGE
        browser.find_element(By.ID, "chaos-apply").click()
        until("the fault applied", lambda: "applied slow" in browser.find_element(By.ID, "chaos-ok").text, 15)
        until("the fault in the active list", lambda: browser.find_elements(By.CSS_SELECTOR, "#chaos-active tr[data-fault=slow]"), 10)
        until("the breaker open in the event list",
              lambda: browser.find_elements(By.CSS_SELECTOR, "#chaos-events-body tr.chaos-open"), 20)
        browser.save_screenshot(str(ARTIFACTS / "ui-chaos-fault-active.png"))

        browser.find_element(By.CSS_SELECTOR, "button.chaos-remove[data-fault=slow]").click()
        until("no fault active", lambda: "no fault active" in browser.find_element(By.ID, "chaos-active").text, 15)
        until("the breaker closed in the event list", lambda: any(
            "state=closed" in row.text for row in browser.find_elements(By.CSS_SELECTOR, "#chaos-events-body tr")), 20)
        browser.save_screenshot(str(ARTIFACTS / "ui-chaos-fault-removed.png"))
        # The tab's own errors: a script error, or a /chaos/ request that failed. (Locust's own polling of
        # /stats/requests may log a failed load on a starved machine; that is not the tab's doing.)
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")
                  and ("chaos" in e["message"] or "Failed to load resource" not in e["message"])]
        assert not errors, errors

        browser.find_element(By.ID, "chaos-stop").click()
        browser.switch_to.alert.accept()
        output = proc.communicate(timeout=120)[0].decode()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), output
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "completed", result
    records = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    applied = next(r for r in records if r["kind"] == "fault_applied")
    assert applied["fault"] == "slow" and applied["by"] == "ui" and applied["attributes"]["latency"] == 800
    assert next(r for r in records if r["kind"] == "session_ended")["by"] == "ui"
    assert next(r for r in records if r["kind"] == "swarm_started")["users"] == 16
    # The report shows the fault's window and the breaker's events.
    browser.get((run_dir / "report.html").as_uri())
    headings = {h.text.strip(): h for h in browser.find_elements(By.TAG_NAME, "h2")}
    timeline = next(h for name, h in headings.items() if name.startswith("Fault timeline"))
    events = next(h for name, h in headings.items() if name.startswith("Target events"))
    browser.execute_script("arguments[0].scrollIntoView()", timeline)
    browser.save_screenshot(str(ARTIFACTS / "ui-session-report.png"))
    section = browser.execute_script("return arguments[0].parentElement.innerText", timeline)
    assert "slow" in section and "latency" in section, section  # the fault's window
    assert "breaker_state" in browser.execute_script("return arguments[0].parentElement.innerText", events)
