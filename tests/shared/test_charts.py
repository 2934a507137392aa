"""Server-drawn charts: what a reader of the picture relies on."""

from __future__ import annotations

import re
from itertools import pairwise

from shared.web.charts import (
    LABEL_GAP,
    X_LABELS,
    Dot,
    Line,
    dot_columns,
    labelled,
    run_chart,
    scatter,
    short_periods,
)


def _label_heights(svg: str) -> dict[str, float]:
    return {
        label: float(y)
        for y, label in re.findall(
            r'<text x="[\d.]+" y="([\d.]+)" text-anchor="end" fill=[^>]*>([^<]+)<', svg
        )
    }


def test_labels_of_reference_lines_close_together_do_not_overlap() -> None:
    """The 85th and 95th percentiles are often a few days apart: both labels stay
    readable, stacked, each with a halo over the dots beneath it."""
    svg = str(
        dot_columns(
            "ages",
            [("in development", [Dot(0, 470.0, "a"), Dot(0, 520.0, "b")])],
            unit="days",
            lines=[Line(275, "50% 275 d"), Line(438, "85% 438 d"), Line(485, "95% 485 d")],
        )
    )
    heights = _label_heights(svg)
    assert set(heights) == {"50% 275 d", "85% 438 d", "95% 485 d"}
    ordered = sorted(heights.values())
    assert all(b - a >= LABEL_GAP for a, b in pairwise(ordered))
    assert heights["95% 485 d"] < heights["85% 438 d"] < heights["50% 275 d"]  # top to bottom
    assert svg.count('paint-order="stroke"') == 3


def test_a_lone_reference_line_islabelled_just_above_itself() -> None:
    svg = str(dot_columns("ages", [("qa", [Dot(0, 3.0, "a")])], lines=[Line(5, "median 5")]))
    (line_y,) = re.findall(r'<line [^>]*y1="([\d.]+)"[^>]*stroke-dasharray', svg)
    assert _label_heights(svg)["median 5"] == float(line_y) - 4


def test_the_x_axis_names_its_last_day_without_running_into_the_label_before() -> None:
    """At most about 8 labels, the first and the last always, never two closer than the
    regular spacing (the period's end no longer overprints the label before it: "16
    Nov4 Dec", "2026-W432026-W49")."""
    for n in range(1, 800):
        shown = labelled(n)
        every = max(1, -(-n // X_LABELS))
        assert (shown[0], shown[-1]) == (0, n - 1), n
        assert len(shown) <= X_LABELS + 1, n
        assert all(b - a >= every for a, b in pairwise(shown)), n


def test_y_axis_ticks_are_labelled_with_their_own_values() -> None:
    """A chart topped at 50 has gridlines at 12.5 and 37.5, labelled so, not 12 and 38."""
    svg = str(run_chart("delivered", ["a", "b"], [47.0, 3.0]))
    ticks = re.findall(r'<text x="42" y="[\d.]+" text-anchor="end">([^<]+)<', svg)
    assert ticks == ["0", "12.5", "25", "37.5", "50"]


def test_a_dot_with_a_page_is_a_link_named_by_its_tooltip_and_escaped() -> None:
    """A request's dot opens the request when clicked, out of the tab order (hundreds of
    them); its name and address are escaped like every text of a chart; a dot without a
    page stays a dot."""
    tip = 'REQ-7 Billing <fix> & "more": 12 days'
    svg = str(
        scatter(
            "cycle",
            ["a", "b"],
            [Dot(1, 12.0, tip, "/requests/r-1?x=1&y=2"), Dot(0, 3.0, "no page")],
        )
    )
    link = re.search(
        r'<a href="([^"]+)" aria-label="([^"]+)" tabindex="-1"><circle [^>]*><title>([^<]+)<', svg
    )
    assert link is not None
    assert link.group(1) == "/requests/r-1?x=1&amp;y=2"
    assert (
        link.group(2)
        == link.group(3)
        == ("REQ-7 Billing &lt;fix&gt; &amp; &quot;more&quot;: 12 days")
    )
    assert svg.count("<a ") == 1
    assert "<title>no page</title>" in svg
    ages = str(dot_columns("ages", [("qa", [Dot(0, 3.0, "REQ-1", "/requests/r-2")])]))
    assert '<a href="/requests/r-2" aria-label="REQ-1" tabindex="-1">' in ages
    # A period's point of a run chart, one of a dozen or so, stays in the tab order.
    run = str(run_chart("delivered", ["2026-03"], [2.0], links=["/requests?x=1"]))
    assert '<a href="/requests?x=1" aria-label="2026-03: 2"><circle' in run


def test_an_axis_names_its_periods_without_the_year_they_all_share() -> None:
    """Week labels ran into each other ("2026-W012026-W08"); the tooltip keeps the year."""
    assert short_periods(["2026-W01", "2026-W02"]) == ["W01", "W02"]
    assert short_periods(["2025-12", "2026-01"]) == ["Dec 25", "Jan 26"]
    assert short_periods(["2026-Q1", "2026-Q2"]) == ["Q1", "Q2"]
    assert short_periods(["2026-03-05", "2026-03-06"]) == ["5 Mar", "6 Mar"]
    assert short_periods(["2026", "2027"]) == ["2026", "2027"]
    svg = str(run_chart("delivered", ["2026-W01", "2026-W02"], [1.0, 2.0]))
    assert ">W01</text>" in svg
    assert "<title>2026-W01: 1</title>" in svg


def test_a_chart_of_counts_has_whole_numbers_on_its_axis() -> None:
    """Deliveries per period read 12.5 and 37.5 on the axis, an empty chart 0.25 and 0.75:
    no count is a fraction."""
    from shared.web.charts import stacked_area

    def ticks(svg: str) -> list[str]:
        return re.findall(r'text-anchor="end">([^<]+)</text>', svg)

    for values in ([0.0, 0.0], [3.0, 9.0], [31.0, 44.0], [120.0, 7.0]):
        drawn = str(run_chart("Delivered", ["2026-01", "2026-02"], values, counts=True))
        assert all(float(t).is_integer() for t in ticks(drawn)), (values, ticks(drawn))
        assert float(ticks(drawn)[-1]) >= max(values)
    flow = str(stacked_area("Flow", ["a", "b"], [("open", [2.0, 3.0]), ("done", [4.0, 5.0])]))
    assert all(float(t).is_integer() for t in ticks(flow)), ticks(flow)
