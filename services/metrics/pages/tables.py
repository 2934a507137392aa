"""The figures each dashboard chart draws, as tables: the text alternative of a picture
(a screen reader, a keyboard, someone who wants the numbers), folded under each chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from services.metrics.domain.calendar import bucket_key
from services.metrics.domain.records import WORK_STAGES
from services.metrics.pages.figures import CFD_BANDS, CyclePoint
from shared.web.rendering import Templates

_day = Templates.day  # "Sun 6 Dec 2026", as every page writes a day


@dataclass(frozen=True)
class Table:
    caption: str
    head: list[str]
    rows: list[list[str | int | float]]
    numeric: int = 1
    """The columns from this one on hold numbers (right-aligned)."""


def _words(stage: str) -> str:
    return stage.replace("_", " ")


def throughput(doc: dict[str, Any]) -> Table:
    rows: list[list[str | int | float]] = [
        [f"{p['period']} (so far)" if "to_date_of" in p else str(p["period"]), p["delivered"]]
        for p in doc["throughput"]["periods"]
    ]
    return Table("Requests delivered per period", ["Period", "Delivered"], rows)


def cycle_time(points: list[CyclePoint], summary: dict[str, Any]) -> Table:
    """Each delivered request, latest delivered first, then the percentiles drawn."""
    rows: list[list[str | int | float]] = [
        [title, _day(day), days] for day, days, title, _ in sorted(points, reverse=True)
    ]
    for key in ("p50", "p85", "p95"):
        if summary.get(key) is not None:
            rows.append([f"{key[1:]}th percentile", "\N{EM DASH}", summary[key]])
    return Table(
        "Cycle time of each request delivered in the period, latest delivered first",
        ["Request", "Delivered", "Cycle time (days)"],
        rows,
        numeric=2,
    )


def cumulative_flow(doc: dict[str, Any], unit: str) -> Table:
    """The counts at the end of each week, month or quarter of the period (its last day
    for the one under way): a row a day would be hundreds."""
    flow = doc["cumulative_flow"]
    bands = [s for s in reversed(CFD_BANDS) if s in flow["stages"]]
    last: dict[str, dict[str, Any]] = {}
    for d in flow["days"]:
        last[bucket_key(date.fromisoformat(d["date"]), unit)] = d  # the bucket's latest day
    rows: list[list[str | int | float]] = [
        [_day(date.fromisoformat(d["date"])), *(d.get(s, 0) for s in bands)] for d in last.values()
    ]
    return Table(
        f"Requests in each state at the end of each {unit}",
        ["Day", *(_words(s) for s in bands)],
        rows,
    )


def aging(doc: dict[str, Any]) -> Table:
    """Each request under way, by stage (as the chart's columns), oldest first."""
    items = [i for i in doc["work_in_progress"]["items"] if i["days_since_accepted"] is not None]
    order = {stage: n for n, stage in enumerate(WORK_STAGES)}
    items.sort(key=lambda i: (order.get(i["stage"], 99), -i["days_since_accepted"]))
    rows: list[list[str | int | float]] = [
        [
            f"{i['reference']} {i['title']}".strip(),
            _words(i["stage"]),
            i["days_since_accepted"],
            i["days_in_stage"],
        ]
        for i in items
    ]
    return Table(
        "Each request in progress, by stage, longest since accepted first",
        ["Request", "Stage", "Days since accepted", "Days in its stage"],
        rows,
        numeric=2,
    )


def of_charts(doc: dict[str, Any], points: list[CyclePoint]) -> dict[str, Table]:
    """Each chart's table, by the chart's name."""
    unit = doc["unit"] if doc["unit"] != "day" else "week"
    return {
        "throughput": throughput(doc),
        "cycle": cycle_time(points, doc["flow_times"]["cycle_time_days"]),
        "cfd": cumulative_flow(doc, unit),
        "aging": aging(doc),
    }
