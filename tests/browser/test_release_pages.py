"""The release manager plans and freezes, IT staff record progress: in headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer
from tests.release.builders import train_payload

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_release_manager_applies_the_plan_freezes_and_it_staff_record_progress(
    as_user: Any, live_server: LiveServer
) -> None:
    """The suggested plan is applied from the plan page; the bundle page freezes the scope,
    refuses an exception without a reason, and takes IT staff's progress, which the VP's
    and the owner's intake pages then show."""
    live_server.api("POST", "/api/trains", "rm", json=train_payload(name="Browser monthly"))
    request_id = live_server.submit("Prepaid top-up reminders")
    live_server.accept(request_id, owner="dev.alice", points=2)

    rm = as_user("rm")
    page = rm.go("/release")
    expect(page.locator("#suggestion")).to_contain_text("Prepaid top-up reminders")
    expect(page.locator(".bundle-card").first.locator(".bar")).to_be_visible()
    rm.shot("release-plan-laptop")
    page.click("button:has-text('Apply the ticked proposals')")
    expect(page.locator(".notice")).to_contain_text("scheduled from the suggested plan")

    entry = next(
        e for e in live_server.api("GET", "/api/plan", "rm") if e["request_id"] == request_id
    )
    bundle = f"/release/bundles/{entry['bundle_id']}"
    page = rm.go(bundle)
    expect(page.locator("table.list")).to_contain_text("Prepaid top-up reminders")
    page.fill("form[action$='/freeze'] input[name=note]", "Scope agreed with the VPs")
    page.click("button:has-text('Freeze scope')")
    expect(page.locator(".notice")).to_contain_text("Scope frozen")
    before = live_server.event_count()
    row = page.locator("tr", has_text="Prepaid top-up reminders")
    row.locator("button:has-text('Take out')").click()
    expect(page.locator(".error")).to_contain_text("reason")
    assert live_server.event_count() == before
    rm.shot("bundle-laptop")

    dev = as_user("dev.alice")
    page = dev.go(bundle)
    row = page.locator("tr", has_text="Prepaid top-up reminders")
    row.locator("select[name=stage]").select_option("in_development")
    row.locator("input[name=note]").fill("Started on the SMS template")
    row.locator("button:has-text('Record')").click()
    expect(page.locator(".notice").first).to_contain_text("Progress recorded")
    # The page comes back to the item's row, which says where it stands now.
    done = page.locator("tr.this-item", has_text="Prepaid top-up reminders")
    expect(done).to_contain_text("In development")
    expect(done.locator(".notice")).to_contain_text("is in development.")
    expect(done).to_be_in_viewport()
    page = dev.go("/my-work")
    expect(page.locator("tr", has_text="Prepaid top-up reminders")).to_contain_text(
        "In development"
    )
    vp = as_user("vp.sales", PHONE)
    page = vp.go("/department")
    expect(page.locator("tr", has_text="Prepaid top-up reminders").first).to_contain_text(
        entry["bundle_name"]
    )
    page = vp.go("/release")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.locator("#suggestion")).to_have_count(0)
    vp.shot("release-plan-phone")
