"""Each role does its intake job through the pages, in headless Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from shared.application import acting_as
from tests.browser.conftest import PHONE, LiveServer
from tests.builders import draft

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_requester_submits_with_duplicate_suggestions_while_typing(
    as_user: Any, live_server: LiveServer
) -> None:
    """A VP sees similar open requests while typing the title, and a refusal keeps the form."""
    live_server.submit("Roaming bill cap for travellers", as_="vp.care")
    vp = as_user("vp.sales")
    page = vp.go("/requests/new")
    page.fill("input[name=title]", "Roaming bill cap")
    expect(page.locator("#suggestions")).to_contain_text("Roaming bill cap for travellers")
    page.fill("textarea[name=description]", "Stop roaming charges above a cap the customer sets.")
    page.fill("textarea[name=justification]", "Roaming bill shock is our top complaint in summer.")
    page.select_option("select[name=category]", "business_project")
    page.select_option("select[name=size_estimate]", "S")
    vp.shot("submit-request-laptop")

    page.click("button:has-text('Submit request')")  # no subsystem ticked: refused
    expect(page.locator(".error")).to_contain_text("Fill in at least one affected subsystem")
    expect(page.locator("input[name=title]")).to_have_value("Roaming bill cap")
    expect(page.locator("textarea[name=description]")).to_contain_text("Stop roaming charges")

    page.check("input[name=subsystems][value=Billing]")
    page.click("button:has-text('Submit request')")
    expect(page.locator(".notice")).to_contain_text("Your request is in")
    # under its reference: REQ-n, n the order in which the log received it
    expect(page.locator("h1")).to_have_text(re.compile(r"^REQ-\d+ Roaming bill cap$"))
    expect(page.locator("ol.history")).to_contain_text("vp.sales submitted for Sales")


def test_release_manager_triages_in_one_click_and_sees_the_board(
    as_user: Any, live_server: LiveServer
) -> None:
    """Accept from the queue (htmx swaps the item), a refusal shows in place; the board
    then shows the request accepted with its age and the column's WIP count."""
    swap = live_server.submit("Self-service SIM swap")
    bad = live_server.submit("Loyalty points on the portal")
    rm = as_user("rm")
    page = rm.go("/triage")
    rm.shot("triage-laptop")

    item = page.locator(f"#triage-{bad}")
    item.locator("input[name=question]").fill("Which loyalty tiers?")  # typed, not sent
    item.locator("select[name=owner]").select_option("dev.alice")
    item.locator("input[name=size_points]").fill("13")
    item.locator("select[name=class_of_service]").select_option("fixed_date")
    item.locator("button:has-text('Accept')").click()  # fixed date class without a date
    expect(item.locator(".error")).to_contain_text("needs its date: give the fixed date")
    expect(item.locator("input[name=size_points]")).to_have_value("13")
    expect(item.locator("input[name=question]")).to_have_value("Which loyalty tiers?")

    item = page.locator(f"#triage-{swap}")
    item.locator("select[name=owner]").select_option("dev.alice")
    item.locator("input[name=size_points]").fill("8")
    item.locator("button:has-text('Accept')").click()
    expect(item.locator(".decided")).to_contain_text("Accepted")
    assert live_server.intake.views.get(swap)["owner"] == "dev.alice"  # type: ignore[index]  # the row exists

    page = rm.go("/board")
    column = page.locator("section.column", has_text="Accepted, not yet planned")
    expect(column.locator(".kcard", has_text="Self-service SIM swap")).to_contain_text("1 d")
    wip = int(column.locator(".wip").inner_text())
    assert wip == column.locator(".kcard").count() >= 1
    rm.shot("board-laptop")


def test_requester_reranks_by_buttons_and_by_drag_and_drop(
    as_user: Any, live_server: LiveServer, browser: Any
) -> None:
    """Up/down work without JavaScript; drag and drop reorders with it; both are saved."""
    ids = [live_server.submit(f"Rank {name}", as_="vp.care") for name in "ABC"]
    for request_id in ids:
        live_server.accept(request_id)
    vp = as_user("vp.care")
    page = vp.go("/department")
    titles = page.locator("ol.ranking li .title a")
    expect(titles).to_have_text(["Rank A", "Rank B", "Rank C"])

    page.locator("ol.ranking li").nth(0).locator("button[value=down]").click()
    expect(titles).to_have_text(["Rank B", "Rank A", "Rank C"])

    items = page.locator("ol.ranking li")
    with page.expect_response(lambda r: r.url.endswith("/department/ranking")) as saved:
        items.nth(2).drag_to(items.nth(0), target_position={"x": 20, "y": 3})
    assert saved.value.status == 200
    expect(titles).to_have_text(["Rank C", "Rank B", "Rank A"])
    assert live_server.intake.views.ranking("Customer Care").request_ids == [
        ids[2],
        ids[1],
        ids[0],
    ]
    vp.shot("department-laptop")

    no_js = browser.new_context(java_script_enabled=False)
    try:
        plain = no_js.new_page()
        from tests.browser.conftest import sign_in

        sign_in(plain, live_server.url, "vp.care")
        plain.goto(live_server.url + "/department")
        plain.locator("ol.ranking li").nth(2).locator("button[value=up]").click()
        expect(plain.locator("ol.ranking li .title a")).to_have_text(["Rank C", "Rank A", "Rank B"])
    finally:
        no_js.close()


def test_requester_rates_delivered_work(as_user: Any, live_server: LiveServer) -> None:
    """Delivered requests offer a rating; the rating shows on the request."""
    request_id = live_server.submit("Paperless bills")
    live_server.accept(request_id)
    live_server.deliver(request_id)
    vp = as_user("vp.sales")
    page = vp.go("/department")
    page.locator("tr", has_text="Paperless bills").locator("a:has-text('Rate it')").click()
    page.select_option("select[name=score]", "4")
    page.fill("input[name=comment]", "Quick and quiet")
    page.click("button:has-text('Rate it')")
    expect(page.locator(".notice")).to_contain_text("Thank you for your rating")
    expect(page.locator("dl.facts")).to_contain_text("4/5 — Quick and quiet")


def test_a_vp_and_the_owner_talk_on_the_request_with_its_lines_and_references_kept(
    as_user: Any, live_server: LiveServer
) -> None:
    """The VP asks on the request, landing back at the box under their comment; the
    owner reads it, with its line break and a written reference as a link, and answers."""
    request_id = live_server.submit("Itemised roaming charges")
    live_server.accept(request_id)
    vp = as_user("vp.sales")
    page = vp.go(f"/requests/{request_id}")
    page.fill("#comment textarea[name=text]", "Before the March run?\nSame tariffs as REQ-1.")
    page.click("#comment button:has-text('Comment')")
    expect(page).to_have_url(re.compile(r"notice=commented#comment$"))
    owner = as_user("dev.alice", PHONE)
    seen = owner.go(f"/requests/{request_id}")
    said = seen.locator("li.comment blockquote")
    expect(said).to_have_count(1)
    assert said.inner_text() == "Before the March run?\nSame tariffs as REQ-1."
    expect(said.locator("a")).to_have_attribute("href", "/requests/REQ-1")
    seen.fill("#comment textarea[name=text]", "Yes: it is sized for the February bundle.")
    seen.click("#comment button:has-text('Comment')")
    expect(seen.locator("li.comment")).to_have_count(2)
    assert seen.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    owner.shot("request-conversation-phone")


def test_a_comment_box_says_when_a_pasted_text_was_cut_at_its_limit(
    as_user: Any, live_server: LiveServer
) -> None:
    """The browser keeps 5,000 characters of a longer paste without a word; the box
    counts once most of it is used, and says when the rest was left out."""
    request_id = live_server.submit("Roaming caps per contract")
    page = as_user("vp.sales").go(f"/requests/{request_id}")
    counter = page.locator("#comment small.counter")
    expect(counter).to_be_hidden()
    box = page.locator("#comment textarea[name=text]")
    box.fill("a" * 4_100)
    expect(counter).to_have_text("4,100 of 5,000 characters")
    box.fill("")
    box.focus()
    page.keyboard.insert_text("b" * 6_000)
    expect(counter).to_have_text(
        "5,000 of 5,000 characters: the limit; anything beyond it was left out"
    )
    assert len(box.input_value()) == 5_000


def test_a_vp_follows_another_departments_request_in_place_and_sees_it_listed(
    as_user: Any, live_server: LiveServer
) -> None:
    """Follow on a request's page turns into "Following" without leaving the page; the
    notifications page lists it, and stopping there is remembered on the request."""
    request_id = live_server.submit("Roaming bundles for Care")
    care = as_user("vp.care")
    page = care.go(f"/requests/{request_id}")
    follow = page.locator(".page-head .follow")
    expect(follow.locator("button")).to_have_text("Follow")
    follow.locator("button").click()
    expect(page.locator(".page-head .follow")).to_contain_text("Following")
    expect(page).to_have_url(re.compile(rf"/requests/{request_id}$"))  # never left the page
    care.shot("request-followed-laptop")
    settings = care.go("/settings/notifications")
    followed = settings.locator("section", has_text="Requests and changes you follow").last
    expect(followed.locator("li")).to_contain_text("Roaming bundles for Care")
    followed.locator("button:has-text('Stop following')").click()
    expect(settings.locator(".notice")).to_contain_text("You no longer follow the request.")
    again = care.go(f"/requests/{request_id}")
    expect(again.locator(".page-head .follow button")).to_have_text("Follow")


def test_it_staff_see_their_items(as_user: Any, live_server: LiveServer) -> None:
    """An IT owner's page lists the accepted work they are the point of contact for."""
    request_id = live_server.submit("Regression pack for billing")
    live_server.accept(request_id, owner="qa.quinn", points=3)
    qa = as_user("qa.quinn")
    page = qa.go("/my-work")
    expect(page.locator("table.list")).to_contain_text("Regression pack for billing")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Triage")
    qa.shot("my-work-laptop")


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("vp.sales", "/department"),
        ("rm", "/triage"),
        ("rm", "/board"),
        ("vp.sales", "/requests/new"),
        ("rm", "/dashboard"),
        ("rm", "/release"),
    ],
)
def test_main_pages_fit_a_phone(
    as_user: Any, live_server: LiveServer, username: str, path: str
) -> None:
    """On a phone-sized screen the page never scrolls sideways (the board scrolls inside)."""
    person = as_user(username, PHONE)
    page = person.go(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The pages' row is one line (it took 215 of 844 px in five rows), the current one
    # in sight in it.
    nav = page.locator(".mainnav").bounding_box()
    assert nav is not None
    assert nav["height"] < 50
    current = page.locator(".mainnav a[aria-current='page']")
    if current.count():
        box = current.bounding_box()
        assert box is not None
        assert nav["x"] <= box["x"] <= box["x"] + box["width"] <= nav["x"] + nav["width"] + 1
    person.shot(f"{path.strip('/').replace('/', '-')}-phone")


def test_on_a_laptop_every_page_link_and_triage_form_stays_in_sight(
    as_user: Any, live_server: LiveServer
) -> None:
    """At 1280 pixels the navigation wraps rather than hiding pages past its edge, and a
    triage card holds its forms even when a similar request's title is long."""
    long = "Roaming bill cap for travellers in every country we serve, alerts by SMS and e-mail"
    live_server.submit(long, as_="vp.care")
    live_server.submit(f"{long}, for prepaid too")
    rm = as_user("rm", {"width": 1280, "height": 800})
    page = rm.go("/triage")

    def right(box: Any) -> float:
        assert box is not None
        return float(box["x"] + box["width"])

    nav = right(page.locator("nav.mainnav").bounding_box())
    links = page.locator("nav.mainnav a").all()
    assert len(links) >= 8
    assert [link.inner_text() for link in links if right(link.bounding_box()) > nav + 1] == []
    cards = page.locator("article.triage-item").all()
    assert cards
    for card in cards:
        edge = right(card.bounding_box())
        assert all(right(form.bounding_box()) <= edge + 1 for form in card.locator("form").all())
    rm.shot("triage-laptop-1280")


def test_on_a_1366_laptop_every_page_link_sits_in_one_row(
    as_user: Any, live_server: LiveServer
) -> None:
    """The role with the most pages (IT staff on the CAB: twelve) sees them in one row
    of their own under the name, search and account, not one or two wrapped onto a
    second line beside them."""
    olga = as_user("ops.olga")
    page = olga.go("/")
    links = page.locator("nav.mainnav a").all()
    assert len(links) >= 12
    rows = {round(box["y"]) for link in links if (box := link.bounding_box()) is not None}
    assert len(rows) == 1, rows
    search = page.locator(".topbar .find").bounding_box()
    assert search is not None
    assert min(rows) > search["y"] + search["height"] - 1  # the row under the search
    olga.shot("navigation-laptop-1366")


def test_an_age_in_days_never_breaks_across_lines(as_user: Any, live_server: LiveServer) -> None:
    """In a table squeezed by long titles, '473 d' stays on one line (it read '473' over
    'd' on a VP's department page)."""
    vp_sales = live_server.platform.directory.principal("vp.sales")
    assert vp_sales is not None
    for n in range(3):
        title = f"Customer portal: self-service roaming bill caps with SMS alerts, variant {n}"
        with acting_as("vp.sales", at=datetime.now(UTC) - timedelta(days=473)):
            request_id = live_server.intake.submit(vp_sales, draft(title=title)).id
        live_server.accept(request_id, owner="dev.alice")
    vp = as_user("vp.sales", {"width": 760, "height": 800})
    page = vp.go("/department")
    rows = page.locator("tr", has_text="roaming bill caps with SMS alerts, variant")
    ages = rows.locator('td[data-label="Age"]').all()
    assert len(ages) == 3
    assert all(re.fullmatch(r"47\d d", cell.inner_text()) for cell in ages)
    lines = [
        cell.evaluate(
            "c => { const r = document.createRange(); r.selectNodeContents(c);"
            " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size }"
        )
        for cell in ages
    ]
    assert lines == [1] * len(ages)
