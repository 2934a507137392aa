"""The metrics dashboard and the weekly report in headless Chromium, on a laptop and a phone."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import expect

from services.intake.domain import ClassOfService
from shared.application import acting_as
from tests.browser.conftest import PHONE, LiveServer
from tests.builders import draft
from tests.metrics.scenario import t

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def march(server: LiveServer) -> None:
    """Care's March 2026 through intake's real commands at their business times (only
    real commands here: every service in the live server follows this log)."""
    care = server.platform.directory.principal("vp.care")
    assert care is not None
    plan = [
        ("Alpha", "02-20", "03-02", "03-10"),
        ("Bravo", "03-01", "03-02", "03-12"),
        ("Charlie", "03-02", None, None),
    ]
    for title, submitted, accepted, delivered in plan:
        with acting_as("vp.care", at=t(f"2026-{submitted} 09:00")):
            rid = server.intake.submit(care, draft(title=title)).id
        if accepted is None:  # left in triage: it ages in the WIP chart, ranks nowhere
            continue
        with acting_as("rm", at=t(f"2026-{accepted} 10:00")):
            server.intake.accept(UUID(rid), "dev.alice", 5, ClassOfService.STANDARD, None)
        if delivered:
            with acting_as("railyard", at=t(f"2026-{delivered} 19:00")):
                server.intake.deliver(UUID(rid), None, None)
            with acting_as("vp.care", at=t(f"2026-{delivered} 20:00")):
                server.intake.rate(care, UUID(rid), 4, "")


def test_metrics_dashboard_shows_pictures_to_every_role(
    as_user: Any, live_server: LiveServer
) -> None:
    """Four charts and the year-on-year table for a reader; each request's dot on the
    cycle-time chart opens that request when clicked, and the keyboard reaches the same
    requests through the delivered count's list; the VP's own view fits a phone, each
    chart legible in a frame that scrolls sideways; the weekly report shows the week's
    deliveries."""
    march(live_server)
    reader = as_user("metrics.mo")
    page = reader.go("/dashboard?period=2026-03&unit=week")
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.locator("h2", has_text="DORA keys")).to_be_visible()
    expect(page.locator("section", has_text="This period against the one before")).to_contain_text(
        "Requests delivered"
    )
    reader.shot("metrics-laptop")

    cycle = page.locator("section", has_text="Cycle time").locator("svg.chart a")
    expect(cycle).to_have_count(2)  # Alpha and Bravo, delivered in March
    alpha = cycle.filter(has_text="Alpha")
    # Numbered in the order the shared live server's log received it: any REQ-n.
    expect(alpha).to_have_attribute("aria-label", re.compile(r"^REQ-\d+ Alpha: 9 days$"))
    alpha.click()
    expect(page.locator("h1")).to_contain_text("Alpha")
    page.go_back()
    # A keyboard does not pass every dot to leave the chart (they are out of the tab
    # order): it reaches the same requests through the delivered count's list.
    expect(alpha).to_have_attribute("tabindex", "-1")
    tile = page.get_by_label(re.compile(r"^\d+ delivered: the list$"))
    tile.focus()
    page.keyboard.press("Enter")
    expect(page.locator("a", has_text="Alpha")).to_be_visible()

    page = reader.go("/dashboard/weekly?week=2026-W11")
    expect(page.locator("section", has_text="Delivered (")).to_contain_text("Alpha")
    reader.shot("weekly-report-laptop")

    vp = as_user("vp.care", PHONE)
    page = vp.go("/dashboard?period=2026-03&unit=week")
    expect(page.locator("h1")).to_have_text("Metrics: Customer Care")
    expect(page.locator("svg.chart")).to_have_count(4)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # A chart keeps a width its labels can be read at (scaled to the phone, 6px), its
    # frame scrolling sideways rather than the page.
    label = page.locator("svg.chart text").first.bounding_box()
    assert label is not None
    assert label["height"] >= 10, label
    assert page.evaluate(
        "(() => { const f = document.querySelector('.chart-frame');"
        " return f.scrollWidth > f.clientWidth; })()"
    )
    vp.shot("metrics-phone")


def test_the_dashboard_filters_are_named_and_the_content_a_key_away(
    as_user: Any, live_server: LiveServer
) -> None:
    """The first Tab reaches "Skip to content", which moves the focus past the top bar;
    every filter is found by its visible label, and a category and subsystem chosen stay
    chosen in the address and the form; each chart's figures unfold as a table."""
    march(live_server)
    reader = as_user("metrics.mo")
    page = reader.go("/dashboard?period=2026-03&unit=week")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    for name in ("Period", "Per", "Department", "Category", "Subsystem", "Class of service"):
        expect(page.get_by_label(name, exact=True)).to_be_visible()
    page.get_by_label("Category", exact=True).select_option("business_project")
    page.get_by_label("Subsystem", exact=True).select_option("Billing")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"category=business_project&subsystem=Billing"))
    expect(page.get_by_label("Subsystem", exact=True)).to_have_value("Billing")
    figures = page.locator("section", has_text="Throughput").locator("details.figures")
    figures.locator("summary").click()
    expect(figures.locator("table")).to_contain_text("2026-W11")
    reader.shot("metrics-filtered-laptop")
