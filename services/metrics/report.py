"""The weekly status report as Markdown or HTML (jinja2 templates beside this module)."""

from __future__ import annotations

from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.metrics.domain.calendar import parse_instant
from shared.web.rendering import label

FORMATS = {"markdown": "weekly.md.j2", "html": "weekly.html.j2"}
FIGURES = {
    "delivered": "Delivered",
    "median_cycle_time_days": "Median cycle time (days)",
    "p85_cycle_time_days": "85th percentile cycle time (days)",
    "work_in_progress": "Work in progress (end of week)",
    "satisfaction": "Average satisfaction (1-5)",
    "deployments": "Production changes deployed",
    "change_failure_rate": "Change failure rate",
}
RATES = frozenset({"change_failure_rate"})
NAMED = frozenset({"category", "decision"})

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _change(value: Any) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _figure(value: Any, key: str) -> str:
    """A key figure as the dashboard shows it: a rate as a percentage."""
    if key in RATES and value is not None:
        return f"{value * 100:.0f}%"
    return _show(value)


def _item(row: dict[str, Any], key: str) -> str:
    """What a list line adds after the department: a category or decision by its name
    (`it_project` -> "IT project"), anything else (a date, a reason) as it is."""
    value = row.get(key)
    return label(value) if key in NAMED and value else _show(value)


_MARKDOWN = str.maketrans({**{c: f"\\{c}" for c in "\\`*_[]<>|~&"}, "\r": " ", "\n": " "})


def _md(value: Any) -> str:
    """Text people wrote (a title, a reason), as itself in Markdown: what would make it
    emphasis, a link, HTML or another table column escaped, a line break a space."""
    return _show(value).translate(_MARKDOWN)


_environment.filters["md"] = _md
_environment.filters["show"] = _show
_environment.filters["change"] = _change
_environment.filters["figure"] = _figure
_environment.filters["item"] = _item


def render_weekly(report: dict[str, Any], fmt: str = "markdown", zone: tzinfo = UTC) -> str:
    """Render a `weekly_report` document; `fmt` is markdown or html; instants are shown
    in `zone`, the business time zone ("2026-03-07 09:00 CET")."""
    if fmt not in FORMATS:
        raise ValueError(f"format is one of {', '.join(FORMATS)}")
    template = _environment.get_template(FORMATS[fmt])

    def when(instant: str | None) -> str:
        if not instant:
            return "-"
        return parse_instant(instant).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    return template.render(report=report, figures=FIGURES, when=when)
