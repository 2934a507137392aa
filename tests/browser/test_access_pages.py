"""Sign-in, sign-out, and what a role may neither see nor post, in headless Chromium."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, SHOTS, LiveServer, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_a_role_sees_only_its_own_pages_and_cannot_post_another_roles_forms(
    as_user: Any, live_server: LiveServer
) -> None:
    """A VP has no triage link, gets a 403 page for it, and a crafted triage POST (with a
    valid CSRF token) is 403 and writes nothing; likewise the RM and a department ranking."""
    request_id = live_server.submit("Forbidden fruit")
    vp = as_user("vp.sales")
    page = vp.go("/")
    expect(page.locator("nav.mainnav")).to_contain_text("My department")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Triage")
    response = page.goto(live_server.url + "/triage")
    assert response is not None
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not for your role")
    expect(page.locator("form[action*='/accept']")).to_have_count(0)

    before = live_server.event_count()
    answer = vp.post(f"/triage/{request_id}/accept", {"owner": "dev.alice", "size_points": "3"})
    assert answer.status == 403
    rm = as_user("rm")
    rm.go("/triage")
    answer = rm.post("/department/ranking", {"order": request_id})
    assert answer.status == 403
    answer = rm.post(f"/requests/{request_id}/rating", {"score": "5"})
    assert answer.status == 403
    assert live_server.event_count() == before
    assert live_server.intake.views.get(request_id)["status"] == "submitted"  # type: ignore[index]  # the row exists


def test_a_form_without_the_session_csrf_token_writes_nothing(
    as_user: Any, live_server: LiveServer
) -> None:
    """A POST carrying the session cookie but not its CSRF token is refused (403)."""
    vp = as_user("vp.sales")
    vp.go("/requests/new")
    before = live_server.event_count()
    fields = {"title": "Sneaky", "description": "d", "justification": "j", "sponsor": "s",
              "category": "unplanned", "size_estimate": "S", "subsystems": "CRM"}  # fmt: skip
    assert vp.post("/requests/new", fields, csrf="").status == 403
    assert vp.post("/requests/new", fields, csrf="forged-token").status == 403
    assert live_server.event_count() == before


def test_sign_in_with_a_token_and_sign_out(
    as_user: Any, live_server: LiveServer, browser: Any
) -> None:
    """An API token signs in too; after signing out every page asks to sign in again."""
    from shared.application import acting_as

    with acting_as("test-setup"):
        token = live_server.platform.identity.issue_token("cab.carl", "browser").token
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(live_server.url + "/signin")
        page.click("summary:has-text('API token')")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "signin-laptop.png"))
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Carl CAB")
        cookie = next(c for c in context.cookies() if c["name"] == "railyard_session")
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Lax"
        page.click("button:has-text('Sign out')")
        expect(page).to_have_url(live_server.url + "/signin")
        page.goto(live_server.url + "/board")
        expect(page).to_have_url(live_server.url + "/signin?next=/board")
    finally:
        context.close()


def test_sign_in_is_rate_limited_per_user(browser: Any, live_server: LiveServer) -> None:
    """After five wrong passwords for one user, even the right one is refused with 429
    and Retry-After, with a readable message on the page. (The pipeline's account: no
    other browser test signs in as it.)"""
    context = browser.new_context()
    try:
        page = context.new_page()
        for _ in range(5):
            sign_in(page, live_server.url, "pipeline", "wrong password here")
            expect(page.locator(".error")).to_contain_text("do not match")
        sign_in(page, live_server.url, "pipeline", PASSWORD)
        expect(page.locator(".error")).to_contain_text("Too many sign-in attempts")
        expect(page.locator("input[name=username]")).to_have_value("pipeline")
    finally:
        context.close()
    with httpx.Client(base_url=live_server.url) as client:
        form = client.get("/signin").text
        csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
        answer = client.post(
            "/signin", data={"csrf_token": csrf, "username": "pipeline", "password": PASSWORD}
        )
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
