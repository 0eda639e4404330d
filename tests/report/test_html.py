import re
from pathlib import Path

from harness.journal import History
from harness.report import build_timeline, render_html, write_reports
from harness.result import RunResult

# the same string the synthetic run's unknown check uses as its summary (conftest.py)
NASTY = """<script>alert("x") & 'y'</script>"""


def html_of(result: RunResult, history: History) -> str:
    return render_html(result, history, build_timeline(history))


def test_the_report_shows_the_verdict_every_check_and_charts(result: RunResult, history: History) -> None:
    html = html_of(result, history)
    assert 'class="verdict failed"' in html and ">FAILED<" in html
    for check in ("steady-state before: error rate", "breaker opens", "fallback &amp; &lt;quality&gt;"):
        assert check in html
    assert html.count("<svg") == 4  # fault band, throughput, error rate, latency
    assert 'class="defect">breaker_disabled<' in html


def test_the_report_loads_nothing_from_outside(result: RunResult, history: History) -> None:
    html = html_of(result, history)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "<link" not in html


def test_summaries_and_event_fields_from_the_target_are_escaped(result: RunResult, history: History) -> None:
    html = html_of(result, history)
    assert NASTY not in html and "<script" not in html
    assert "&lt;script&gt;alert(" in html


def test_failed_and_unknown_evidence_is_open_and_nested_lists_are_tables(result: RunResult,
                                                                        history: History) -> None:
    html = html_of(result, history)
    assert html.count("<details open>") == 2
    assert "<th>t_s</th><th>state</th>" in html


def test_long_event_lists_are_capped_with_a_note(result: RunResult, history: History) -> None:
    records = history.records + [{"kind": "event", "t": history.load_start, "service": "s", "type": "tick"}] * 600
    html = html_of(result, History(records))
    assert "Showing the first 500 of 603 events" in html


def test_a_run_that_never_loaded_still_renders(tmp_path: Path, result: RunResult) -> None:
    result.checks, result.status, result.error = [], "error", "toxiproxy-server not found on PATH"
    result.error_kind = "environment"
    html = write_reports(tmp_path, result, History([]))["report.html"].read_text(encoding="utf-8")
    assert ">UNKNOWN<" in html and "toxiproxy-server not found" in html and "No load was recorded" in html


def test_a_time_series_in_evidence_is_drawn_as_a_sparkline(result: RunResult, history: History) -> None:
    result.checks[1].evidence["series"] = [{"series": '{outcome="<ok>"}', "value": 16.0,
                                            "points": [[10.0, 0.5], [11.0, 16.0], [12.0, 15.5]]}]
    html = html_of(result, history)
    assert html.count('<svg class="spark"') == 1 and "0.5 … 16" in html
    assert '{outcome=&#34;&lt;ok&gt;&#34;}' in html  # labels from the journal stay escaped
