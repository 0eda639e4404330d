from harness.report.svg import Band, GanttRow, Series, gantt, is_point_list, line_chart, nice_ticks, sparkline


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


def test_a_sparkline_draws_every_point_from_zero_and_quotes_its_range() -> None:
    svg = sparkline([[10, 16.0], [11, 16.01], [12, 15.99]])
    assert svg.count("<polyline") == 1
    pairs = svg.split('points="')[1].split('"')[0].split()
    assert len(pairs) == 3
    # the y axis includes zero: a 16 +- 0.01 series is drawn flat near the top, not as a spike
    ys = [float(p.split(",")[1]) for p in pairs]
    assert max(ys) - min(ys) < 0.1
    assert "3 points, 10s to 12s; min 15.99, max 16.01" in svg and "15.99 … 16.01" in svg


def test_only_lists_of_number_pairs_are_point_lists() -> None:
    assert is_point_list([[0, 1], [1, 2.5]])
    assert not is_point_list([[0, 1]])  # one point is no line
    assert not is_point_list([[0, "1"], [1, 2]]) and not is_point_list([[0, True], [1, 2]])
    assert not is_point_list([{"t": 0}, {"t": 1}]) and not is_point_list("ab")
