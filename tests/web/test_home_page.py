"""The start page says what waits for the person signed in, for the roles they hold, and
each count opens a list that shows the same items."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

from railyard.app import all_components
from services.intake.application import Intake
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.http.app import create_app
from shared.identity.domain import Principal
from shared.platform import Component, Waiting
from shared.web.install import install_web
from tests.builders import draft
from tests.release.builders import train_payload
from tests.web.conftest import Web, listed
from tests.web.test_change_pages import approved_now, raise_change
from tests.web.test_intake_pages import accept, decide, delivered, rated, submit
from tests.web.test_release_pages import api, scheduled_bundle

WAIT = re.compile(
    r'<li><a href="([^"]+)"><span class="num">(\d+)</span><span class="what">([^<]+)</span></a>'
    r'(?:<span class="muted"> · ([^<]+)</span>)?</li>'
)


def waits(web: Web, as_: str) -> dict[str, tuple[int, str, str]]:
    """What the start page says waits: text -> (count, address, detail)."""
    with web.client() as client:
        web.sign_in(client, as_)
        page = client.get("/")
    assert page.status_code == 200, page.text
    assert "Waiting for you" in page.text
    found = {
        text: (int(n), path.replace("&amp;", "&"), detail or "")
        for path, n, text, detail in WAIT.findall(page.text)
    }
    if not found:
        assert "Nothing waits for you now." in page.text
    return found


def page_of(web: Web, address: str, as_: str) -> str:
    with web.client() as client:
        web.sign_in(client, as_)
        page = client.get(address)
    assert page.status_code == 200, page.text
    return page.text


def test_the_release_manager_sees_the_triage_queue_and_its_longest_wait(web: Web) -> None:
    first = submit(web, title="Port-in tracking")
    submit(web, title="Churn dashboard", as_="vp.care")
    assert waits(web, "rm")["requests await triage"] == (2, "/triage", "the longest waiting 1 day")
    accept(web, first)
    assert waits(web, "rm")["request awaits triage"] == (1, "/triage", "the longest waiting 1 day")
    queue = page_of(web, "/triage", "rm")
    assert "Churn dashboard" in queue
    assert "Port-in tracking" not in queue


def test_a_vp_sees_their_departments_questions_and_deliveries_to_rate(web: Web) -> None:
    """Only their own department's; a rated delivery no longer waits; each count's list
    shows the same requests."""
    asked = submit(web, title="Loyalty offers")
    decide(web, asked, "ask", {"question": "Which customers?"})
    decide(web, submit(web, title="Care question", as_="vp.care"), "ask", {"question": "Why?"})
    shipped = [
        delivered(web, f"Shipped {n}", n, "vp.sales" if department == "Sales" else "vp.care")
        for n, department in ((1, "Sales"), (2, "Sales"), (3, "Sales"), (4, "Customer Care"))
    ]
    rated(web, shipped[0], 4)

    found = waits(web, "vp.sales")
    assert set(found) == {
        "Sales request awaits your answer",
        "delivered Sales requests to rate",
    }
    count, address, detail = found["Sales request awaits your answer"]
    assert count == 1
    assert "returns it to triage" in detail
    assert len(listed(web, address, "vp.sales")) == 1
    assert "Loyalty offers" in page_of(web, address, "vp.sales")
    count, address, _ = found["delivered Sales requests to rate"]
    assert count == 2
    to_rate = page_of(web, address, "vp.sales")
    assert len(listed(web, address, "vp.sales")) == 2
    assert "Shipped 2" in to_rate
    assert "Shipped 3" in to_rate
    assert "Shipped 1" not in to_rate  # rated
    assert 'value="none" selected' in to_rate  # the list says what it shows

    assert set(waits(web, "vp.care")) == {
        "Customer Care request awaits your answer",
        "delivered Customer Care request to rate",
    }


def test_the_cab_sees_what_awaits_approval_and_the_implementer_what_awaits_start(
    web: Web,
) -> None:
    """Never one's own change to approve (separation of duties); once approved, it waits
    for its implementer to start it, and no longer for the CAB."""
    opens = date.today() + timedelta(days=400)  # well ahead, within the two years allowed
    change_id = raise_change(
        web,
        as_="ops.olga",
        implementers=["dev.alice"],
        window_start=f"{opens.isoformat()}T10:00",
        window_end=f"{opens.isoformat()}T12:00",
    )
    assert waits(web, "cab.carl")["production change awaits your approval"] == (1, "/cab", "")
    assert "production change awaits your approval" not in waits(web, "ops.olga")
    approved = web.submit("cab.carl", f"/changes/{change_id}/approve", {"revision": "1"})
    assert approved.status_code == 303, approved.text
    assert waits(web, "cab.carl") == {}
    count, address, detail = waits(web, "dev.alice")["approved change of yours awaits its start"]
    assert count == 1
    # Business time, as typed.
    assert detail == f"its window opens {opens.day} {opens.strftime('%b %Y')} 10:00"
    assert listed(web, address, "dev.alice") == ["CHG-1"]
    # Who raised it finds it among theirs too (the list's "raised or implement").
    assert waits(web, "ops.olga")["approved change of yours awaits its start"][0] == 1


def test_an_it_owner_sees_the_open_requests_they_own(web: Web) -> None:
    accept(web, submit(web, title="Tariff migration"))  # owned by dev.alice
    count, address, _ = waits(web, "dev.alice")["open request has you as its IT owner"]
    assert count == 1
    assert len(listed(web, address, "dev.alice")) == 1
    assert waits(web, "qa.quinn") == {}


def test_the_release_manager_sees_a_bundle_planned_past_its_capacity(web: Web) -> None:
    bundle = api(web, "POST", "/api/trains", "rm", json=train_payload(capacity_points=3))[
        "bundle_ids"
    ][0]
    request_id = submit(web, title="Bill shock alerts")
    accept(web, request_id)  # 5 points
    assert "upcoming bundle is planned past its capacity" not in waits(web, "rm")
    api(web, "POST", f"/api/bundles/{bundle}/requests", "rm", json={"request_id": request_id})
    count, address, detail = waits(web, "rm")["upcoming bundle is planned past its capacity"]
    assert (count, address) == (1, f"/release/bundles/{bundle}")
    assert detail.endswith(": 5 of 3 points")
    assert "Bill shock alerts" in page_of(web, address, "rm")


def test_a_role_that_nothing_waits_for_is_told_so(web: Web) -> None:
    submit(web)
    assert waits(web, "metrics.mo") == {}
    assert waits(web, "admin") == {}


def test_a_queue_that_cannot_be_counted_leaves_the_rest_of_the_start_page(web: Web) -> None:
    """One service's count failing (a view that cannot be read) is said on the page; the
    other services' counts and every link are still there."""

    def unreadable(principal: Principal) -> list[Waiting]:
        raise RuntimeError("view unreadable")

    components = [*all_components(web.platform), Component("broken", waiting=[unreadable])]
    app = create_app(web.platform, components, run_followers=False)
    install_web(app, web.platform, components)
    hurt = Web(web.platform, web.people, app)
    submit(web, title="Port-in tracking")
    with hurt.client() as client:
        hurt.sign_in(client, "rm")
        page = client.get("/")
    assert page.status_code == 200
    assert "could not be counted just now" in page.text
    assert "Nothing waits for you now." not in page.text
    assert [text for _, _, text, _ in WAIT.findall(page.text)] == ["request awaits triage"]
    assert 'href="/triage"' in page.text


def test_a_failed_change_awaits_its_review_by_an_independent_cab_member_until_recorded(
    web: Web,
) -> None:
    """The CAB queue lists the reviews due, and the start page counts them; never for the
    change's requester or implementers (separation of duties), gone once recorded."""
    change_id = approved_now(
        web, "ops.olga", title="Swap the load balancer", implementers=["dev.alice"]
    )
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        client.post(f"/changes/{change_id}/start", data={"csrf_token": csrf})
        done = client.post(
            f"/changes/{change_id}/complete",
            data={"csrf_token": csrf, "outcome": "rolled_back", "notes": "Health checks failed"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    wording = "completed change awaits your post-implementation review"
    count, address, detail = waits(web, "cab.dora")[wording]
    assert (count, address) == (1, "/cab#reviews")
    assert detail == "CHG-1 Swap the load balancer: rolled back"
    queue = page_of(web, "/cab", "cab.dora").split('id="reviews"')[1]
    assert "Swap the load balancer" in queue
    assert "Health checks failed" in queue
    assert f'href="/changes/{change_id}#review"' in queue
    assert 'id="review"' in page_of(web, f"/changes/{change_id}", "cab.dora")
    assert wording not in waits(web, "ops.olga")  # raised it
    with web.client() as client:
        csrf = web.sign_in(client, "cab.dora")
        reviewed = client.post(
            f"/changes/{change_id}/review",
            data={"csrf_token": csrf, "findings": "Checks too strict", "actions": ""},
            follow_redirects=False,
        )
    assert reviewed.status_code == 303, reviewed.text
    assert wording not in waits(web, "cab.dora")
    assert "No review waits for you." in page_of(web, "/cab", "cab.dora")


def test_the_release_manager_sees_accepted_work_in_no_bundle_and_the_plan_lists_it(
    web: Web,
) -> None:
    api(web, "POST", "/api/trains", "rm", json=train_payload(capacity_points=3))
    fits, too_big = submit(web, title="Small fix"), submit(web, title="Big project")
    decide(web, fits, "accept", {"owner": "dev.alice", "size_points": 2})
    accept(web, too_big)  # 5 points: more than a bundle holds
    wording = "accepted requests are in no bundle yet"
    assert waits(web, "rm")[wording][:2] == (2, "/release#suggestion")
    plan = page_of(web, "/release", "rm").split('id="suggestion"')[1]
    assert "Small fix" in plan
    assert "Big project" in plan  # under "Does not fit yet"
    assert "accepted request" not in " ".join(waits(web, "vp.sales"))


def test_requests_waiting_past_the_triage_target_are_counted_and_flagged(web: Web) -> None:
    """Days counted as the triage page counts them (the first and today both); past the
    target (5 days by default) a request is flagged on the page and counted on the start
    page; a deferral come back waits from the day it was deferred until."""
    intake = Intake(web.platform.log, IntakeViews(web.platform.log), web.platform.directory)
    requester = web.platform.directory.principal("vp.sales")
    assert requester is not None
    today = intake.views.today()
    for title, days_ago in (("Five days", 4), ("Six days", 5)):
        with acting_as("vp.sales", at=datetime.now(UTC) - timedelta(days=days_ago)):
            intake.submit(requester, draft(title=title))
    old = submit(web, title="Deferred long ago")
    decide(web, old, "defer", {"reason": "after the freeze", "until": today.isoformat()})
    assert waits(web, "rm")["requests await triage"] == (
        3,
        "/triage",
        "the longest waiting 6 days, 1 past the 5-day triage target",
    )
    page = page_of(web, "/triage", "rm")
    assert "1 past the 5-day triage target" in page
    cards = {
        c.split("</a>")[0].rsplit(">", 1)[1]: c for c in page.split('class="card triage-item"')[1:]
    }
    assert "waiting 6 days" in cards["Six days"]
    assert "past the 5-day target" in cards["Six days"]
    assert "waiting 5 days" in cards["Five days"]
    assert "past the" not in cards["Five days"]
    assert "waiting 1 day" in cards["Deferred long ago"]


def test_a_request_past_the_triage_target_says_so_on_its_own_page_too(web: Web) -> None:
    """The request's page holds its triage forms for the release manager, with the same
    count of days and the same flag as the queue."""
    intake = Intake(web.platform.log, IntakeViews(web.platform.log), web.platform.directory)
    requester = web.platform.directory.principal("vp.sales")
    assert requester is not None
    with acting_as("vp.sales", at=datetime.now(UTC) - timedelta(days=9)):
        request_id = intake.submit(requester, draft(title="Ten days")).id
    page = page_of(web, f"/requests/{request_id}", "rm")
    assert "waiting 10 days" in page
    assert "past the 5-day target" in page


def test_the_qa_team_sees_the_items_ready_for_qa(web: Web) -> None:
    """qa.quinn's start page said nothing waited while an item sat ready for QA: it now
    counts them and opens the board's column of them."""
    assert "item is ready for QA" not in waits(web, "qa.quinn")
    bundle, request_id = scheduled_bundle(web)
    moved = web.submit(
        "dev.alice",
        f"/release/bundles/{bundle}/items/{request_id}/progress",
        {"stage": "ready_for_qa"},
    )
    assert moved.status_code == 303, moved.text
    count, address, detail = waits(web, "qa.quinn")["item is ready for QA"]
    assert (count, address) == (1, "/board#ready_for_qa")
    assert detail.startswith("the first in ")
    board = page_of(web, "/board", "qa.quinn")
    column = board.split('id="ready_for_qa"')[1].split("</section>")[0]
    assert column.count('class="kcard') == 1
    assert "item is ready for QA" not in waits(web, "dev.alice")  # QA's, not everyone's


def test_an_it_owner_sees_their_items_that_failed_qa_and_where_the_note_is(web: Web) -> None:
    """dev.alice's start page still said only how many requests she owns after QA failed
    one of them; My work showed "QA failed" without the note or a way to it."""
    bundle, request_id = scheduled_bundle(web)  # dev.alice owns it
    path = f"/release/bundles/{bundle}/items/{request_id}/progress"
    assert web.submit("dev.alice", path, {"stage": "ready_for_qa"}).status_code == 303
    assert "item of yours failed QA" not in waits(web, "dev.alice")
    failed = web.submit("qa.quinn", path, {"stage": "qa_failed", "note": "Totals wrong"})
    assert failed.status_code == 303, failed.text
    count, address, detail = waits(web, "dev.alice")["item of yours failed QA"]
    assert (count, address) == (1, f"/release/bundles/{bundle}#item-{request_id}")
    assert html.unescape(detail) == "QA's note says what failed"
    mine = page_of(web, "/my-work", "dev.alice")
    assert f'href="/release/bundles/{bundle}#item-{request_id}"' in mine
    assert "item of yours failed QA" not in waits(web, "qa.quinn")  # the owner's, not QA's


def test_an_approved_change_whose_window_is_open_says_it_may_start_now(web: Web) -> None:
    """It said "its window opens" with a time already past."""
    approved_now(web)
    _, _, detail = waits(web, "dev.alice")["approved change of yours awaits its start"]
    assert detail.startswith("its window opened ")
    assert detail.endswith(": it may start now")
