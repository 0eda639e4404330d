from harness.report.svg import Band, GanttRow, Series, gantt, line_chart, nice_ticks


def test_nice_ticks_are_round_and_cover_the_maximum() -> None:
    assert nice_ticks(37) == [0, 10, 20, 30, 40]
    assert nice_ticks(0.8) == [0, 0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(0) == [0, 0.5, 1.0]


def test_a_gap_in_the_data_breaks_the_line() -> None:
    svg = line_chart([Series("s", "#000", [1, 2, None, 3, 4])], x_max=5)
    assert svg.count("<polyline") == 2


def test_every_text_in_a_chart_is_escaped() -> None:
    svg = line_chart([Series("<b>", "#000", [1])], x_max=1, bands=[Band(0, 1, "#f00", "a & b")], hover=["<i>"])
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a &amp; b" in svg and "&lt;i&gt;" in svg
    g = gantt([GanttRow("<x>", 0, None, "#f00", tooltip="\"t\"")], x_max=10)
    assert "<x>" not in g and "(never removed)" in g and "&quot;t&quot;" in g
