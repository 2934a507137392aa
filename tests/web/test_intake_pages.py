"""Intake's pages in-process: role refusals write nothing; release facts reach the VP."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.intake.application import Intake, RequestDraft
from services.intake.domain import Category, SizeEstimate
from services.intake.views import IntakeViews
from shared import contracts as c
from shared.application import acting_as
from tests.builders import request_payload
from tests.foreign import publish
from tests.web.conftest import Web


def submit(web: Web, as_: str = "vp.sales", **overrides: Any) -> str:
    with web.client() as client:
        answer = client.post(
            "/api/requests", json=request_payload(**overrides), headers=web.people.headers(as_)
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def decide(web: Web, request_id: str, decision: str, body: dict[str, Any]) -> None:
    """The release manager's triage decision (accept, reject, defer ...) through the API."""
    with web.client() as client:
        answer = client.post(
            f"/api/requests/{request_id}/{decision}", json=body, headers=web.people.headers("rm")
        )
    assert answer.status_code == 200, answer.text


def accept(web: Web, request_id: str) -> None:
    decide(web, request_id, "accept", {"owner": "dev.alice", "size_points": 5})


FORMS = [
    ("vp.sales", "/triage/{id}/accept", {"owner": "dev.alice", "size_points": "3"}),
    ("vp.sales", "/triage/{id}/reject", {"reason": "no"}),
    ("dev.alice", "/triage/{id}/ask", {"question": "why?"}),
    ("cab.carl", "/triage/{id}/defer", {"reason": "later"}),
    ("rm", "/department/ranking", {"order": "{id}"}),
    ("rm", "/department/ranking/move", {"request_id": "{id}", "direction": "up"}),
    ("rm", "/requests/{id}/rating", {"score": "5"}),
    ("rm", "/requests/{id}/answer", {"answer": "this"}),
    ("metrics.mo", "/requests/new", {"title": "x"}),
    ("cab.carl", "/requests/{id}/withdraw", {"reason": "x"}),
]


@pytest.mark.parametrize(("username", "path", "form"), FORMS)
def test_a_form_of_another_role_is_403_and_writes_nothing(
    web: Web, username: str, path: str, form: dict[str, str]
) -> None:
    """Posting another role's form directly, with a valid session and CSRF token, is a
    403 page and leaves the log as it was."""
    request_id = submit(web)
    with web.client() as client:
        csrf = web.sign_in(client, username)
        before = web.events()
        data = {k: v.replace("{id}", request_id) for k, v in form.items()}
        answer = client.post(path.replace("{id}", request_id), data={"csrf_token": csrf, **data})
    assert answer.status_code == 403
    assert "Not for your role" in answer.text
    assert web.events() == before


def test_another_departments_vp_sees_the_refusal_on_the_page(web: Web) -> None:
    """The use case's own rule (own department only) shows as a message; nothing written."""
    request_id = submit(web)
    with web.client() as client:
        csrf = web.sign_in(client, "vp.care")
        before = web.events()
        answer = client.post(
            f"/requests/{request_id}/withdraw", data={"csrf_token": csrf, "reason": "mine now"}
        )
    assert answer.status_code == 403
    assert "Only the Sales department may withdraw this request" in answer.text
    assert web.events() == before


def test_htmx_triage_refusal_says_why_in_place_and_leaves_every_box_as_typed(web: Web) -> None:
    """An htmx decision that breaks a rule answers only the message, put in the item's
    message slot: the card is not swapped, so what was typed in its other boxes (a question,
    a reason to defer) stays. Without htmx the page comes back with the form as typed."""
    request_id = submit(web)
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        queue = client.get("/triage").text
        answer = client.post(
            f"/triage/{request_id}/accept",
            data={"owner": "vp.sales", "size_points": "8"},
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
        plain = client.post(
            f"/triage/{request_id}/accept",
            data={"owner": "vp.sales", "size_points": "8", "csrf_token": csrf},
        )
    assert f'<div id="triage-said-{request_id}" role="alert">' in queue
    assert answer.status_code == 422
    assert answer.headers["hx-retarget"] == f"#triage-said-{request_id}"
    assert answer.headers["hx-reswap"] == "innerHTML"
    assert answer.text.startswith('<p class="error"><strong>Not saved.</strong> The owner')
    assert "The owner must be an active IT staff member" in answer.text
    assert "<article" not in answer.text
    assert plain.status_code == 422
    assert 'value="8"' in plain.text


def test_a_request_is_marked_a_duplicate_of_one_typed_by_its_number(web: Web) -> None:
    """Only similar titles were offered: a duplicate worded otherwise could not be marked
    (and a card with no similar title had no Duplicate at all)."""
    original = submit(web, title="Bill shock alerts by SMS")
    copy = submit(web, as_="vp.care", title="Tell customers before their invoice explodes")
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        queue = client.get("/triage").text
        card = queue.split(f'id="triage-{copy}"')[1].split("</article>")[0]
        assert 'name="duplicate_ref" placeholder="Duplicate of REQ-…"' in card
        headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
        unknown = client.post(
            f"/triage/{copy}/duplicate", data={"duplicate_ref": "REQ-999"}, headers=headers
        )
        answer = client.post(
            f"/triage/{copy}/duplicate", data={"duplicate_ref": "req-1"}, headers=headers
        )
    assert unknown.status_code == 404
    assert "No change request REQ-999." in unknown.text
    assert answer.status_code == 200, answer.text
    detail = api_get(web, f"/api/requests/{copy}")
    assert (detail["status"], detail["duplicate_of"]) == ("duplicate", original)


def test_a_triage_card_decided_in_another_tab_says_so_and_offers_no_decision(web: Web) -> None:
    """Rejecting from a second tab a request the first had accepted said "cannot reject a
    request that is accepted" and kept offering all five decisions on the card."""
    request_id = submit(web)
    accept(web, request_id)
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        answer = client.post(
            f"/triage/{request_id}/reject",
            data={"reason": "not now"},
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
    assert answer.status_code == 409
    assert answer.text.startswith("<article")  # the whole card, swapped
    assert "It was decided meanwhile: it is accepted now." in answer.text
    assert f'action="/triage/{request_id}/' not in answer.text
    # The count at the top follows: it left the queue (the tab said one more waited).
    assert '<span class="muted" id="triage-count" hx-swap-oob="true">0 waiting' in answer.text


def test_release_manager_marks_a_suggested_duplicate(web: Web) -> None:
    """The queue offers the similar open requests; choosing one marks the duplicate."""
    original = submit(web, title="Bill shock alerts by SMS")
    copy = submit(web, as_="vp.care", title="SMS bill shock alerts")
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        queue = client.get("/triage").text
        assert f'<option value="{original}"' in queue
        answer = client.post(
            f"/triage/{copy}/duplicate",
            data={"duplicate_of": original},
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
    assert answer.status_code == 200
    assert "Marked as a duplicate" in answer.text
    with web.client() as client:
        detail = client.get(f"/api/requests/{copy}", headers=web.people.headers("rm")).json()
    assert detail["status"] == "duplicate"
    assert detail["duplicate_of"] == original
    # Offered by number as well as title, and none chosen for the release manager.
    assert '<option value="">Duplicate of…</option>' in queue
    assert f'<option value="{original}">REQ-1 Bill shock alerts by SMS (Sales)</option>' in queue
    # The count at the top follows the decision made in place: one waits now, not two.
    assert '<span class="muted" id="triage-count" hx-swap-oob="true">1 waiting' in answer.text


def test_a_triage_item_shows_the_whole_request_and_why_it_is_needed(web: Web) -> None:
    """The queue showed 220 characters of what is needed and not why: the rest, and the
    justification, open under the summary."""
    text = "Send an SMS when a bill is 50% above the usual. " * 10
    submit(web, description=text.strip(), justification="Complaints about bill shock.")
    with web.client() as client:
        web.sign_in(client, "rm")
        queue = client.get("/triage").text
    assert '<details class="more"><summary class="summary">' in queue
    assert f'<p class="prose">{text.strip()}</p>' in queue
    assert "<strong>Why:</strong> Complaints about bill shock." in queue


def test_an_answered_question_is_on_the_triage_page_with_the_request(web: Web) -> None:
    """The request comes back to the queue once its requester answers: the question and
    the answer are beside it, not only on its own page."""
    request_id = submit(web, title="Loyalty points in the portal")
    with web.client() as client:
        for path, as_, body in (
            ("ask", "rm", {"question": "Which portal, <web> or app?"}),
            ("information", "vp.sales", {"answer": "The web portal only."}),
        ):
            done = client.post(
                f"/api/requests/{request_id}/{path}", json=body, headers=web.people.headers(as_)
            )
            assert done.status_code == 200, done.text
        web.sign_in(client, "rm")
        page = client.get("/triage").text
    assert "<strong>You asked:</strong> Which portal, &lt;web&gt; or app?" in page
    assert "<strong>They answered:</strong> The web portal only." in page


def test_a_deferral_whose_date_has_come_is_back_on_the_triage_page(web: Web) -> None:
    """The release manager sees the request again, marked as deferred until today."""
    request_id = submit(web, title="Loyalty points in the portal")
    today = datetime.now(UTC).date()
    with web.client() as client:
        answer = client.post(
            f"/api/requests/{request_id}/defer",
            json={"reason": "after the migration", "until": today.isoformat()},
            headers=web.people.headers("rm"),
        )
        assert answer.status_code == 200, answer.text
        web.sign_in(client, "rm")
        page = client.get("/triage").text
    assert f'id="triage-{request_id}"' in page
    assert "Deferred until" in page


def test_vp_sees_bundle_target_date_and_stage_from_release_facts(web: Web) -> None:
    """Intake follows release's published events: the department page and the board show
    the bundle, its deployment date and the item's stage; the request's history, each step
    of its planning beside its own."""
    request_id = submit(web, title="Bill shock alerts by SMS")
    accept(web, request_id)
    bundle = uuid.uuid4()
    log = web.platform.log
    publish(log, c.BUNDLE_PLANNED, bundle, 1, actor="rm", train_id=str(uuid.uuid4()),
            name="2027.03", deploy_date="2027-03-18", window_start="2027-03-18T20:00:00+00:00",
            window_end="2027-03-18T23:00:00+00:00", scope_freeze_at="2027-03-01T00:00:00+00:00",
            code_complete_at="2027-03-08T00:00:00+00:00", qa_start_at="2027-03-09T00:00:00+00:00",
            capacity_points=40, subsystem_capacity={})  # fmt: skip
    publish(log, c.REQUEST_SCHEDULED, bundle, 2, actor="rm", request_id=request_id,
            size_points=5, subsystems=["Billing"], after_freeze=False, reason="")  # fmt: skip
    publish(log, c.ITEM_PROGRESSED, bundle, 3, actor="dev.alice", request_id=request_id,
            stage="in_development", note="")  # fmt: skip
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/department").text
        board = client.get("/board").text
        detail = client.get(f"/requests/{request_id}").text
    assert "2027.03" in page
    # The Bundle column names it: the date says only where it comes from.
    assert "Thu 18 Mar 2027 <small>(bundle)</small>" in page
    assert "(bundle 2027.03)" not in page
    assert "Thu 18 Mar 2027 <small>(bundle 2027.03)</small>" in detail
    column = board.split('aria-label="In development"')[1].split("</section>")[0]
    assert "Bill shock alerts by SMS" in column
    publish(log, c.BUNDLE_MOVED, bundle, 4, actor="rm", deploy_date="2027-03-25",
            window_start="2027-03-25T20:00:00+00:00", window_end="2027-03-25T23:00:00+00:00",
            scope_freeze_at="2027-03-08T00:00:00+00:00",
            code_complete_at="2027-03-15T00:00:00+00:00",
            qa_start_at="2027-03-16T00:00:00+00:00", reason="vendor patch late")  # fmt: skip
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        detail = client.get(f"/requests/{request_id}").text
    history = detail.split('<ol class="history">')[1].split("</ol>")[0]
    steps = [
        "<strong>rm</strong> accepted",
        "<strong>rm</strong> scheduled it into 2027.03, deploying 2027-03-18",
        "<strong>dev.alice</strong> recorded its progress: in development",
        "<strong>rm</strong> moved its bundle 2027.03 from 2027-03-18 to 2027-03-25: vendor",
    ]
    at = [history.find(step) for step in steps]
    assert -1 not in at, history
    assert at == sorted(at)  # in the order they happened, with the request's own


def test_a_vps_deferred_requests_are_folded_below_the_work_that_moves(web: Web) -> None:
    """Deferred requests are listed apart, folded, with the date each comes back, and
    counted in their own tile; what is in play is listed first."""
    moving, waiting = submit(web, title="Moving along"), submit(web, title="Waiting for Q3")
    accept(web, moving)
    until = (datetime.now(UTC).date() + timedelta(days=40)).isoformat()
    with web.client() as client:
        deferred = client.post(
            f"/api/requests/{waiting}/defer",
            json={"reason": "after the migration", "until": until},
            headers=web.people.headers("rm"),
        )
        assert deferred.status_code == 200, deferred.text
        web.sign_in(client, "vp.sales")
        page = client.get("/department").text
        board = client.get("/board").text
    # The board counts deferred work apart from what moves (it said "2 requests" in play).
    assert "1 request in play, 1 deferred (last column)" in board
    in_play, folded = page.split("<details", 1)
    assert "Moving along" in in_play
    assert "Waiting for Q3" not in in_play
    assert "Deferred (1)" in folded
    assert "Waiting for Q3" in folded
    assert date.fromisoformat(until).strftime("%d %b %Y").lstrip("0") in folded
    assert '<div class="name">Deferred</div>' in page


def test_an_accepted_request_no_longer_gives_the_reason_it_was_once_deferred(web: Web) -> None:
    request_id = submit(web)
    with web.client() as client:
        deferred = client.post(
            f"/api/requests/{request_id}/defer",
            json={"reason": "no capacity in the next five weeks"},
            headers=web.people.headers("rm"),
        )
        assert deferred.status_code == 200, deferred.text
        web.sign_in(client, "rm")
        before = client.get(f"/requests/{request_id}").text
    assert "<dt>Reason</dt><dd>no capacity in the next five weeks</dd>" in before
    accept(web, request_id)
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get(f"/requests/{request_id}").text
        body = client.get(f"/api/requests/{request_id}", headers=web.people.headers("rm")).json()
    assert "<dt>Reason</dt>" not in page
    assert "deferred: no capacity in the next five weeks" in page  # the history keeps it
    assert body["decision_reason"] is None


def test_open_work_whose_target_date_has_passed_is_marked_overdue(web: Web) -> None:
    intake = Intake(web.platform.log, IntakeViews(web.platform.log), web.platform.directory)
    requester = web.platform.directory.principal("vp.sales")
    assert requester is not None
    draft = RequestDraft(
        "Late invoice run", "Invoices", "Cash", "VP Sales", Category.IT_PROJECT, ["Billing"],
        SizeEstimate.S, date(2020, 1, 6),
    )  # fmt: skip
    with acting_as("vp.sales", at=datetime(2019, 12, 2, 9, tzinfo=UTC)):  # asked for back then
        late = intake.submit(requester, draft).id
    later = (datetime.now(UTC).date() + timedelta(days=3 * 365)).isoformat()
    on_time = submit(web, title="Invoice run next decade", desired_date=later)
    for request_id in (late, on_time):
        accept(web, request_id)
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        rows = client.get("/my-work").text.split("<tr")
        detail = client.get(f"/requests/{late}").text
    (late_row,) = [r for r in rows if "Late invoice run" in r]
    (on_time_row,) = [r for r in rows if "Invoice run next decade" in r]
    assert "Mon 6 Jan 2020 <small>(asked for)</small>" in late_row
    # Not "overdue" beside the forecast's date a year on: nobody planned that date yet.
    assert ">asked-for date passed</span>" in late_row
    assert "date passed</span>" not in on_time_row
    assert ">asked-for date passed</span>" in detail


def delivered(web: Web, title: str, day: int, as_: str = "vp.sales") -> str:
    """A request submitted by `as_`, accepted for dev.alice and delivered on that day of
    March 2026."""
    intake = Intake(web.platform.log, IntakeViews(web.platform.log), web.platform.directory)
    request_id = submit(web, as_=as_, title=title)
    accept(web, request_id)
    with acting_as("rm", at=datetime(2026, 3, day, 21, tzinfo=UTC)):
        intake.deliver(uuid.UUID(request_id), None, None)
    return request_id


def rated(web: Web, request_id: str, score: int, as_: str = "vp.sales") -> None:
    """The department's rating of a delivered request, through the API."""
    with web.client() as client:
        answer = client.post(
            f"/api/requests/{request_id}/rating",
            json={"score": score},
            headers=web.people.headers(as_),
        )
    assert answer.status_code == 200, answer.text


def delivered_on_march_1_2_3(web: Web, title: str) -> None:
    """Three requests, "<title> 1" to "3", accepted for dev.alice and delivered on the
    first three days of March 2026 in that order."""
    for n in range(1, 4):
        delivered(web, f"{title} {n}", n)


def test_a_vps_page_lists_the_latest_deliveries_and_all_of_them_on_asking(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Years of deliveries made the page thousands of pixels long (and it read only the
    newest 500 requests, so older open work could fall off it): the latest few are
    listed, newest first, with a link to every one; open work is listed whatever came
    after it."""
    import services.intake.pages.department as department_page

    monkeypatch.setattr(department_page, "DELIVERED_SHOWN", 2)
    accept(web, submit(web, title="Still waiting since long ago"))
    delivered_on_march_1_2_3(web, "Shipped number")
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/department").text
        everything = client.get("/department", params={"delivered": "all"}).text
        refused = client.get("/department", params={"delivered": "some"})
    in_play, delivered = page.split('<h2 id="delivered">')
    assert "Still waiting since long ago" in in_play
    assert "The latest 2 of 3" in delivered
    assert '<a href="/department?delivered=all#delivered">show all 3</a>' in delivered
    assert delivered.index("Shipped number 3") < delivered.index("Shipped number 2")
    assert "Shipped number 1" not in delivered
    listed = everything.split('<h2 id="delivered">')[1]
    assert "All 3, latest first" in listed
    assert all(f"Shipped number {n}" in listed for n in (1, 2, 3))
    assert refused.status_code == 422


def test_a_vps_page_says_how_much_open_work_it_leaves_out(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.intake.pages.department as department_page

    monkeypatch.setattr(department_page, "LISTED_AT_MOST", 2)
    for n in range(3):
        submit(web, title=f"Open number {n}")
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/department").text
    assert "1 more open request is not listed here (the oldest)" in page
    assert "/api/requests?department=Sales" in page


def test_my_work_lists_all_my_accepted_work_and_what_i_delivered_last(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.intake.pages.board as board_page

    monkeypatch.setattr(board_page, "RECENTLY_DELIVERED", 2)
    accept(web, submit(web, title="Accepted before everything else"))
    delivered_on_march_1_2_3(web, "Delivered number")
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        page = client.get("/my-work").text
    table, delivered = page.split("<h2>Recently delivered</h2>")
    assert "Accepted before everything else" in table
    assert delivered.index("Delivered number 3") < delivered.index("Delivered number 2")
    assert "Delivered number 1" not in delivered


def test_a_vp_and_the_owner_talk_on_the_request_page(web: Web) -> None:
    request_id = submit(web, title="Bill shock alerts")
    accept(web, request_id)
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        page = client.get(f"/requests/{request_id}")
        assert 'action="/requests/' + request_id + '/comments"' in page.text
        sent = client.post(
            f"/requests/{request_id}/comments",
            data={"csrf_token": csrf, "text": "Before the March run?\nSee REQ-1 for the wording."},
            follow_redirects=False,
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/requests/{request_id}?notice=commented#comment"
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        page = client.get(f"/requests/{request_id}")
    assert "Your comment is added." not in page.text
    assert '<li class="comment"><strong>vp.sales</strong> commented' in page.text
    assert "Before the March run?\nSee" in page.text  # its lines kept (pre-line)
    assert '<a href="/requests/REQ-1">REQ-1</a>' in page.text  # a written reference links
    assert 'action="/requests/' + request_id + '/comments"' in page.text  # IT answers


def test_a_refused_comment_comes_back_with_the_reason_and_what_was_typed(web: Web) -> None:
    request_id = submit(web)
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        before = web.events()
        long = "Please split it. " * 300  # over 5,000 characters
        refused = client.post(
            f"/requests/{request_id}/comments", data={"csrf_token": csrf, "text": long}
        )
    assert refused.status_code == 422
    assert "Comment is longer than 5000 characters" in refused.text
    assert long.strip() in refused.text  # kept in the box to shorten
    assert web.events() == before


def test_another_departments_vp_reads_the_conversation_but_has_no_comment_box(web: Web) -> None:
    request_id = submit(web)
    with web.client() as client:
        csrf = web.sign_in(client, "vp.care")
        page = client.get(f"/requests/{request_id}")
        assert "/comments" not in page.text
        before = web.events()
        refused = client.post(
            f"/requests/{request_id}/comments", data={"csrf_token": csrf, "text": "Ours first"}
        )
    assert refused.status_code == 403
    assert "Only the Sales department may comment on this request" in refused.text
    assert web.events() == before


def test_an_empty_request_form_names_every_field_it_needs_at_once(web: Web) -> None:
    """It named the first gap only ("Choose a category"), then the next, a round trip
    each; what was typed stays."""
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        answer = client.post(
            "/requests/new",
            data={"csrf_token": csrf, "title": "Bill shock alerts", "sponsor": "VP Sales"},
        )
    assert answer.status_code == 422
    assert (
        "Fill in what is needed, why it is needed, the category, the size estimate and at"
        " least one affected subsystem." in answer.text
    )
    assert 'value="Bill shock alerts"' in answer.text


def test_a_form_holding_a_nul_character_is_refused_with_what_was_typed_kept(web: Web) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        fields = {k: v for k, v in request_payload().items() if k != "subsystems"}
        page = client.post(
            "/requests/new",
            data={"csrf_token": csrf, **fields, "subsystems": "Billing", "title": "Bill\x00shock"},
        )
    assert page.status_code == 422
    assert "Title holds the NUL character (U+0000), which no text may." in page.text
    assert "Text customers when their bill passes a limit they set." in page.text


def test_a_vp_edits_a_request_before_triage_from_its_page(web: Web) -> None:
    """A typo meant withdrawing and submitting again: the API allowed an edit, the pages
    did not. The form opens filled in; an edit read before another is refused, not lost."""
    request_id = submit(web, title="Bill shock alerts by SMSS")
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        page = client.get(f"/requests/{request_id}").text
        assert f'href="/requests/{request_id}/edit"' in page
        assert "(open 1 day, today included)" in page  # days are counted inclusively
        form = client.get(f"/requests/{request_id}/edit").text
        assert 'value="Bill shock alerts by SMSS"' in form
        version = re.search(r'name="version" value="(\d+)"', form)[1]  # type: ignore[index]
        fields = {k: v for k, v in request_payload().items() if k != "subsystems"}
        sent = {"csrf_token": csrf, **fields, "subsystems": ["Billing"], "version": version}
        saved = client.post(
            f"/requests/{request_id}/edit", data={**sent, "title": "Bill shock alerts by SMS"}
        )
        assert "Your changes are saved" in saved.text
        stale = client.post(f"/requests/{request_id}/edit", data={**sent, "title": "Other"})
    assert stale.status_code == 412
    assert "it was changed since you read it" in stale.text
    assert 'value="Other"' in stale.text  # what was typed is kept
    with web.client() as client:
        web.sign_in(client, "rm")
        assert "<h1>" in client.get(f"/requests/{request_id}").text
        title = client.get(f"/api/requests/{request_id}").json()["title"]
    assert title == "Bill shock alerts by SMS"


def test_a_comment_naming_nobody_says_so_and_nobody_else_can_make_the_page_say_things(
    web: Web,
) -> None:
    """@nosuchuser was accepted without a word and the person meant heard nothing."""
    request_id = submit(web)
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        page = client.post(
            f"/requests/{request_id}/comments",
            data={"csrf_token": csrf, "text": "@nosuchuser and @rm: see the sizes"},
        )
        forged = client.get(f"/requests/{request_id}?notice=commented&nobody=%3Cb%3Ebuy%3C/b%3E")
    assert "Your comment is added." in page.text
    assert "@nosuchuser names nobody here, so nobody was told" in page.text
    assert "@rm names" not in page.text
    assert "buy" not in forged.text.split('role="status"')[1].split("</p>")[0]


def api_get(web: Web, path: str, as_: str = "rm") -> Any:
    with web.client() as client:
        answer = client.get(path, headers=web.people.headers(as_))
    assert answer.status_code == 200, answer.text
    return answer.json()
