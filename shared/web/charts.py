"""Charts as inline SVG, drawn on the server from numbers: no script, no build step.

Each function returns markup that scales with its container (a viewBox, width 100%; on a
phone a frame that scrolls sideways, the chart no narrower than its labels can be read
at), labels its axes, and says what it shows in a <title> for screen readers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

W, H = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 34
SLOT_FOR_LABEL = 44
"""Width (px) an x-axis label needs centred under its point without leaving the chart."""
PALETTE = ("#1f6feb", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#0a7ea4", "#bf3989", "#57606a")


@dataclass(frozen=True)
class Line:
    """A horizontal reference line (a median, a percentile)."""

    value: float
    label: str
    color: str = "#cf222e"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10.0 ** len(str(int(value))) / 10
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * factor:
            return step * factor
    return value


def _count_max(value: float) -> float:
    """A top for counts whose four gridlines fall on whole numbers (12.5 deliveries, or
    0.25 on an empty chart, is no count): four times a nice whole quarter."""
    quarter = _nice_max(value / 4) if value > 0 else 1.0
    return 4.0 * max(1, math.ceil(quarter))


def _x(i: int, n: int) -> float:
    inner = W - LEFT - RIGHT
    return LEFT + (inner * (i + 0.5) / n if n else 0)


def _y(value: float, top: float) -> float:
    inner = H - TOP - BOTTOM
    return TOP + inner * (1 - min(value, top) / top)


X_LABELS = 8
"""About how many x-axis labels a chart has room for at its font (13 px of 720 across: a
chart two to a row is drawn some 570 px wide, its text then about 10 px)."""


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PERIOD = re.compile(r"^(\d{4})-(W\d{2}|Q\d|\d{2})(?:-(\d{2}))?$")


def short_periods(labels: Sequence[str]) -> list[str]:
    """Periods as an axis names them: without their year when every one shares it
    ("2026-W07" as W07, "2026-03" as Mar, "2026-Q1" as Q1), a day as "5 Mar"; anything
    else as it is. A point's tooltip keeps the whole period."""
    found = [_PERIOD.match(label) for label in labels]
    if not all(found):
        return list(labels)
    matches = [m for m in found if m is not None]
    one_year = len({m.group(1) for m in matches}) == 1

    def short(m: re.Match[str]) -> str:
        year, part, day = m.group(1), m.group(2), m.group(3)
        if day is not None:
            return f"{int(day)} {_MONTHS[int(part) - 1]}"
        name = _MONTHS[int(part) - 1] if part.isdigit() else part
        return name if one_year else f"{name} {year[2:]}"

    return [short(m) for m in matches]


def labelled(n: int) -> list[int]:
    """Which of n x-axis positions carry a label: at most about X_LABELS, evenly spaced,
    and always the last (the period's end); the regular one before it gives way when the
    two would stand closer than the regular spacing (and run into each other)."""
    every = max(1, -(-n // X_LABELS))
    shown = list(range(0, n, every))
    if shown and shown[-1] != n - 1:
        if n - 1 - shown[-1] < every and len(shown) > 1:
            shown.pop()
        shown.append(n - 1)
    return shown


def _frame(title: str, labels: Sequence[str], top: float, unit: str) -> list[str]:
    parts = [
        # The frame scrolls sideways on a phone, where the chart keeps a width its text
        # can be read at (scaled to a phone's width, 13px labels came out at 6px).
        '<div class="chart-frame">'
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(5):
        value = top * tick / 4
        y = _y(value, top)
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
        )
        # A gridline at 12.5 is labelled 12.5, not 12: ticks are quarters of the top.
        shown = f"{value:.0f}" if value == int(value) else f"{value:.2f}".rstrip("0")
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{shown}</text>')
    parts.append(f'<text x="4" y="12" font-weight="600">{escape(unit)}</text>')
    n = len(labels)
    narrow = n > 1 and (W - LEFT - RIGHT) / n < SLOT_FOR_LABEL
    for i in labelled(n):
        # Centred under its point, except at the ends of a dense axis (a day per point),
        # where a centred label would run off the chart: there it ends, or starts, at the
        # plot's edge.
        x, anchor = _x(i, n), "middle"
        if narrow and i == 0:
            x, anchor = LEFT, "start"
        elif narrow and i == n - 1:
            x, anchor = W - RIGHT, "end"
        parts.append(
            f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="{anchor}">'
            f"{escape(labels[i])}</text>"
        )
    return parts


LABEL_GAP = 13.0
"""Vertical room one reference line's label takes (its font is 13 px)."""


def _lines(lines: Sequence[Line], top: float) -> list[str]:
    """Dashed reference lines, each labelled at the right above its line. Labels of lines
    close together (85th and 95th percentiles often are) are pushed down until none
    overlaps, and each has a white halo so that it reads over the dots beneath it."""
    parts = []
    placed: list[float] = []
    for line in sorted(lines, key=lambda x: -x.value):  # top of the chart first
        y = _y(line.value, top)
        label_y = max(y - 4, placed[-1] + LABEL_GAP) if placed else y - 4
        placed.append(label_y)
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{line.color}"'
            ' stroke-dasharray="5 4"/>'
        )
        parts.append(
            f'<text x="{W - RIGHT - 2}" y="{label_y:.1f}" text-anchor="end" fill="{line.color}"'
            ' stroke="#fff" stroke-width="3" paint-order="stroke"'
            f' style="fill:{line.color}">{escape(line.label)}</text>'
        )
    return parts


@dataclass(frozen=True)
class Dot:
    """One item of a scatter or dot chart: where it sits, what it is (its tooltip and
    accessible name) and, if `href`, the page it opens when clicked or chosen with the
    keyboard (an SVG link: a chart of requests leads to each request)."""

    x: float
    y: float
    tip: str
    href: str = ""


def _linked(mark: str, href: str, name: str, *, in_tab_order: bool = True) -> str:
    """A mark of a chart as a link to `href`, named `name` (as its tooltip), if any.
    Not `in_tab_order`: a dot among hundreds (a year's deliveries) is for the pointer; a
    keyboard would have to pass every one to leave the chart, and reaches the same items
    through the lists the page's counts open (decision 113)."""
    if not href:
        return mark
    skipped = "" if in_tab_order else ' tabindex="-1"'
    return f'<a href="{escape(href)}" aria-label="{escape(name)}"{skipped}>{mark}</a>'


def _dot(cx: float, cy: float, r: float, opacity: str, dot: Dot) -> str:
    circle = (
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r}" fill="{PALETTE[0]}"'
        f' fill-opacity="{opacity}"><title>{escape(dot.tip)}</title></circle>'
    )
    return _linked(circle, dot.href, dot.tip, in_tab_order=False)


def run_chart(
    title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "",
    lines: Sequence[Line] = (), under_way: bool = False, links: Sequence[str] = (),
    counts: bool = False,
) -> Markup:  # fmt: skip
    """Values over time as a line with points, with reference lines (a median).
    `under_way`: the last period is not over; its point is drawn hollow, reached by a
    dashed segment, and its tooltip says "so far". `links`: the page each point opens
    (the items it counts), as a scatter's dots do. `counts`: whole-number gridlines."""
    highest = max([*values, *(line.value for line in lines), 0])
    top = _count_max(highest) if counts else _nice_max(highest)
    parts = _frame(title, short_periods(labels), top, unit)
    n = len(values)
    xy = [f"{_x(i, n):.1f},{_y(v, top):.1f}" for i, v in enumerate(values)]
    whole = xy[:-1] if under_way and n > 1 else xy
    if whole:
        parts.append(
            f'<polyline points="{" ".join(whole)}" fill="none" stroke="{PALETTE[0]}"'
            ' stroke-width="2"/>'
        )
    if len(whole) < n:
        parts.append(
            f'<polyline points="{" ".join(xy[-2:])}" fill="none" stroke="{PALETTE[0]}"'
            ' stroke-width="2" stroke-dasharray="4 3"/>'
        )
    solid, hollow = f'fill="{PALETTE[0]}"', f'fill="#fff" stroke="{PALETTE[0]}" stroke-width="2"'
    for i, v in enumerate(values):
        last = under_way and i == n - 1
        tip = f"{labels[i]}{' so far' if last else ''}: {v:g}"
        point = (
            f'<circle cx="{_x(i, n):.1f}" cy="{_y(v, top):.1f}" r="3" {hollow if last else solid}>'
            f"<title>{escape(tip)}</title></circle>"
        )
        parts.append(_linked(point, links[i] if i < len(links) else "", tip))
    parts += _lines(lines, top)
    parts.append("</svg></div>")
    return Markup("".join(parts))  # noqa: S704  # every interpolated text is escaped above


def scatter(
    title: str, labels: Sequence[str], points: Sequence[Dot], *,
    unit: str = "", lines: Sequence[Line] = (),
) -> Markup:  # fmt: skip
    """Dots (x an index into `labels`) with percentile lines."""
    top = _nice_max(max([*(p.y for p in points), *(line.value for line in lines), 0]))
    parts = _frame(title, labels, top, unit)
    n = len(labels)
    for dot in points:
        parts.append(_dot(_x(int(dot.x), n), _y(dot.y, top), 3.5, ".6", dot))
    parts += _lines(lines, top)
    parts.append("</svg></div>")
    return Markup("".join(parts))  # noqa: S704  # every interpolated text is escaped above


def stacked_area(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
    unit: str = "", colors: Sequence[str] = PALETTE,
) -> Markup:  # fmt: skip
    """Cumulative bands, first series at the bottom (a cumulative flow diagram)."""
    n = len(labels)
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    top = _count_max(max([*totals, 0]))  # items in each state: whole numbers
    parts = _frame(title, labels, top, unit)
    below = [0.0] * n
    for index, (name, values) in enumerate(series):
        above = [below[i] + values[i] for i in range(n)]
        upper = [f"{_x(i, n):.1f},{_y(above[i], top):.1f}" for i in range(n)]
        lower = [f"{_x(i, n):.1f},{_y(below[i], top):.1f}" for i in reversed(range(n))]
        color = colors[index % len(colors)]
        if n:
            parts.append(
                f'<polygon points="{" ".join(upper + lower)}" fill="{color}" fill-opacity=".75"'
                f' stroke="{color}"><title>{escape(name)}</title></polygon>'
            )
        below = above
    parts.append("</svg></div>")
    return Markup("".join(parts))  # noqa: S704  # every interpolated text is escaped above


def legend(names: Sequence[str], colors: Sequence[str] = PALETTE) -> Markup:
    items = "".join(
        f'<span><i style="background:{colors[i % len(colors)]}"></i>{escape(name)}</span>'
        for i, name in enumerate(names)
    )
    return Markup(f'<div class="legend">{items}</div>')  # noqa: S704  # names are escaped


def dot_columns(
    title: str, columns: Sequence[tuple[str, Sequence[Dot]]], *,
    unit: str = "", lines: Sequence[Line] = (),
) -> Markup:  # fmt: skip
    """Dots per column (aging work in progress: one dot per item, its age upwards; each
    dot's `x` is ignored, the column places it)."""
    top = _nice_max(
        max([*(d.y for _, dots in columns for d in dots), *(x.value for x in lines), 0])
    )
    labels = [name for name, _ in columns]
    parts = _frame(title, labels, top, unit)
    n = len(columns)
    width = (W - LEFT - RIGHT) / max(n, 1)
    for i, (_, dots) in enumerate(columns):
        for j, dot in enumerate(dots):
            jitter = ((j * 37) % 11 - 5) / 12 * width * 0.5
            parts.append(_dot(_x(i, n) + jitter, _y(dot.y, top), 4, ".65", dot))
    parts += _lines(lines, top)
    parts.append("</svg></div>")
    return Markup("".join(parts))  # noqa: S704  # every interpolated text is escaped above


def bar(fraction: float, *, over: bool = False) -> Markup:
    """A capacity bar filled to `fraction` (red when over capacity)."""
    width = max(0.0, min(fraction, 1.0)) * 100
    css = "bar over" if over or fraction > 1 else "bar"
    return Markup(f'<div class="{css}"><span style="width:{width:.0f}%"></span></div>')  # noqa: S704  # numbers only
