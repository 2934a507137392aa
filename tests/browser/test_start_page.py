"""The start page in headless Chromium: what waits for you, and where its counts lead."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_the_release_manager_opens_the_triage_queue_from_the_start_page_on_a_phone(
    as_user: Any, live_server: LiveServer
) -> None:
    """The count is a link to the queue it counts; on a phone nothing scrolls sideways."""
    live_server.submit("Start page: porting alerts")
    rm = as_user("rm", PHONE)
    page = rm.go("/")
    waiting = page.locator("#waiting")
    expect(waiting.get_by_role("heading", name="Waiting for you")).to_be_visible()
    triage = waiting.get_by_role("link", name=re.compile(r"^\d+ requests? awaits? triage$"))
    expect(triage).to_be_visible()
    count = int(triage.locator(".num").inner_text())
    assert count >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    rm.shot("start-page-phone")
    triage.click()
    expect(page).to_have_url(re.compile(r"/triage$"))
    expect(page.get_by_text("Start page: porting alerts").first).to_be_visible()
    assert page.locator("article.triage-item").count() == count
