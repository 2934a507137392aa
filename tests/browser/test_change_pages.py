"""IT staff raise an operations change and the CAB approves it, in headless Chromium."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_it_staff_raise_a_change_and_the_cab_approves_it(
    as_user: Any, live_server: LiveServer
) -> None:
    """The raise form (refused once, kept), the CAB queue with gates, the approval, the
    change's history and the calendar."""
    start = datetime.now().replace(second=0, microsecond=0) + timedelta(hours=2)
    dev = as_user("dev.alice")
    page = dev.go("/changes/new")
    page.fill("input[name=title]", "Rotate the payment gateway certificates")
    page.check("input[name=subsystems][value=Billing]")
    page.fill("input[name=window_start]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=window_end]", (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("textarea[name=implementation_plan]", "Install the new certificates, restart.")
    page.fill("textarea[name=backout_plan]", "Put the old certificates back.")
    page.select_option("select[name=impact]", "minor")
    page.select_option("select[name=likelihood]", "unlikely")
    page.select_option("select[name=affected_users]", "none")
    page.select_option("select[name=backout_tested]", "yes")
    page.uncheck("input[name=implementers][value='dev.alice']")
    dev.shot("raise-change-laptop")
    page.click("button:has-text('Raise the change')")  # no implementer: refused
    expect(page.locator(".error")).to_contain_text("implementer")
    expect(page.locator("input[name=title]")).to_have_value(
        "Rotate the payment gateway certificates"
    )
    page.check("input[name=implementers][value='dev.alice']")
    page.click("button:has-text('Raise the change')")
    expect(page.locator(".notice")).to_contain_text("waits for the CAB")

    cab = as_user("cab.dora")
    page = cab.go("/cab")
    item = page.locator("article", has_text="Rotate the payment gateway certificates")
    expect(item.locator("ul.gates")).to_be_visible()
    cab.shot("cab-queue-laptop")
    item.locator("button:has-text('Approve')").click()
    expect(page.locator(".notice")).to_contain_text("approval is recorded")
    expect(page.locator("article", has_text="Rotate the payment gateway")).to_have_count(0)

    phone = as_user("cab.carl", PHONE)
    page = phone.go("/changes/calendar")
    expect(page.locator("main")).to_contain_text("Rotate the payment gateway certificates")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.shot("change-calendar-phone")
    page.click("text=Rotate the payment gateway certificates")
    expect(page.locator("ol.history")).to_contain_text("cab.dora")
    phone.shot("change-detail-phone")
