"""Release's pages in-process: forms refused to the wrong role write nothing; a QA
sign-off and a refusal read as sentences on the page."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from shared import contracts
from tests.foreign import publish
from tests.release.builders import train_payload
from tests.web.conftest import Web
from tests.web.test_intake_pages import accept, submit


def api(web: Web, method: str, path: str, as_: str, **kwargs: Any) -> Any:
    with web.client() as client:
        answer = client.request(method, path, headers=web.people.headers(as_), **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json()


def scheduled_bundle(web: Web) -> tuple[str, str]:
    bundle = api(web, "POST", "/api/trains", "rm", json=train_payload())["bundle_ids"][0]
    request_id = submit(web)
    accept(web, request_id)
    api(web, "POST", f"/api/bundles/{bundle}/requests", "rm", json={"request_id": request_id})
    return bundle, request_id


FORMS = [
    ("vp.sales", "/release/bundles/{b}/freeze", {"note": "x"}),
    ("dev.alice", "/release/bundles/{b}/schedule", {"request_id": "{r}"}),
    ("cab.carl", "/release/bundles/{b}/items/{r}/unschedule", {"reason": "x"}),
    ("rm", "/release/bundles/{b}/items/{r}/progress", {"stage": "in_development"}),
    ("vp.sales", "/release/bundles/{b}/sign-off", {"note": "x"}),
    ("metrics.mo", "/release/plan/apply", {"proposal": "{r}:{b}"}),
    ("dev.alice", "/release/bundles/{b}/move", {"deploy_date": "2099-01-06", "reason": "x"}),
    ("cab.carl", "/release/bundles/{b}/capacity", {"capacity_points": "5"}),
    ("vp.sales", "/release/bundles/{b}/cancel", {"reason": "x"}),
]


@pytest.mark.parametrize(("username", "path", "form"), FORMS)
def test_a_release_form_of_another_role_is_403_and_writes_nothing(
    web: Web, username: str, path: str, form: dict[str, str]
) -> None:
    """Each release form posted by a role it is not for is a 403 page; the log is unchanged."""
    bundle, request_id = scheduled_bundle(web)

    def fill(text: str) -> str:
        return text.replace("{b}", bundle).replace("{r}", request_id)

    with web.client() as client:
        csrf = web.sign_in(client, username)
        before = web.events()
        answer = client.post(
            fill(path), data={"csrf_token": csrf, **{k: fill(v) for k, v in form.items()}}
        )
    assert answer.status_code == 403
    assert web.events() == before


def test_qa_verdicts_are_the_qa_teams_and_the_refusal_reads_as_a_sentence(web: Web) -> None:
    """A developer recording a QA verdict is refused by the domain's rule, shown on the
    bundle page; the QA team records it."""
    bundle, request_id = scheduled_bundle(web)
    path = f"/release/bundles/{bundle}/items/{request_id}/progress"
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        client.post(path, data={"csrf_token": csrf, "stage": "ready_for_qa"})
        before = web.events()
        answer = client.post(path, data={"csrf_token": csrf, "stage": "qa_passed"})
    assert answer.status_code == 403
    assert "Only the QA team records QA verdicts." in answer.text
    assert web.events() == before
    with web.client() as client:
        csrf = web.sign_in(client, "qa.quinn")
        answer = client.post(
            path, data={"csrf_token": csrf, "stage": "qa_passed"}, follow_redirects=False
        )
    assert answer.status_code == 303
    detail = api(web, "GET", f"/api/bundles/{bundle}", "rm")
    assert detail["items"][0]["stage"] == "qa_passed"
    # Back at the item's row, named: the page opened at its top on a long bundle, saying
    # only that some progress was recorded.
    where = answer.headers["location"]
    assert where.endswith(f"&request={request_id}#item-{request_id}")
    page = page_after(web, "qa.quinn", where.split("#")[0])
    reference = detail["items"][0]["reference"]
    assert f"{reference} passed QA." in page
    row = page.split(f'<tr id="item-{request_id}" class="')[1].split("</tr>")[0]
    assert row.startswith(" this-item")  # highlighted where the reader lands
    assert f"{reference} passed QA." in row


def test_a_refused_step_is_said_in_its_items_row_keeping_what_was_chosen(web: Web) -> None:
    """QA failing an item without saying what failed: the refusal showed only at the top
    of a long page, and the row's choice was reset."""
    bundle, request_id = scheduled_bundle(web)
    path = f"/release/bundles/{bundle}/items/{request_id}/progress"
    assert web.submit("dev.alice", path, {"stage": "ready_for_qa"}).status_code == 303
    with web.client() as client:
        csrf = web.sign_in(client, "qa.quinn")
        refused = client.post(path, data={"csrf_token": csrf, "stage": "qa_failed", "note": " "})
    assert refused.status_code == 422
    row = refused.text.split(f'<tr id="item-{request_id}" class="')[1].split("</tr>")[0]
    assert "Say what failed" in row
    assert '<option value="qa_failed" selected>' in row


def test_a_refused_sign_off_names_the_items_that_have_not_passed_qa(web: Web) -> None:
    """QA signing off too early read "1 item has not passed QA" on a bundle of thirty,
    without saying which: the sign-off names each, with its stage and a link to its row."""
    bundle, request_id = scheduled_bundle(web)
    path = f"/release/bundles/{bundle}/items/{request_id}/progress"
    assert web.submit("dev.alice", path, {"stage": "ready_for_qa"}).status_code == 303
    api(web, "POST", f"/api/bundles/{bundle}/freeze", "rm", json={"note": "frozen"})
    reference = api(web, "GET", f"/api/bundles/{bundle}", "rm")["items"][0]["reference"]
    refused = web.submit("qa.quinn", f"/release/bundles/{bundle}/sign-off", {"note": "go"})
    assert refused.status_code == 409
    assert "1 item has not passed QA." in refused.text
    waiting = html.unescape(refused.text.split('id="not-passed">')[1].split("</p>")[0])
    assert f'href="#item-{request_id}">{reference}</a> (Ready for QA).' in waiting


def test_the_stage_form_offers_only_where_an_item_can_go_and_preselects_nothing(
    web: Web,
) -> None:
    """A passed item offers QA only "QA failed", and nothing is chosen until someone
    chooses: one click of Record cannot set an item back."""
    bundle, request_id = scheduled_bundle(web)
    path = f"/release/bundles/{bundle}/items/{request_id}/progress"
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        page = client.get(f"/release/bundles/{bundle}").text
        assert stage_choices(page) == ["", "in_development", "ready_for_qa"]
        client.post(path, data={"csrf_token": csrf, "stage": "ready_for_qa"})
    with web.client() as client:
        csrf = web.sign_in(client, "qa.quinn")
        client.post(path, data={"csrf_token": csrf, "stage": "qa_passed"})
        page = client.get(f"/release/bundles/{bundle}").text
    assert stage_choices(page) == ["", "qa_failed"]
    assert "selected" not in page.split('name="stage"')[1].split("</select>")[0]


def stage_choices(page: str) -> list[str]:
    return re.findall(
        r'<option value="(\w*)"', page.split('name="stage"')[1].split("</select>", maxsplit=1)[0]
    )


def test_the_plan_page_does_not_say_all_is_planned_when_work_does_not_fit(web: Web) -> None:
    """A request bigger than any open bundle's room is listed as not fitting yet, and the
    page does not also claim every accepted request is planned."""
    api(web, "POST", "/api/trains", "rm", json=train_payload(capacity_points=3))
    request_id = submit(web)
    accept(web, request_id)  # 5 points: more than a bundle holds
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/release").text
    assert "Does not fit yet" in page
    assert "every accepted request is planned" not in page
    assert "Nothing fits into the open bundles now" in page


def test_release_manager_defines_a_monthly_train_from_the_plan_page(web: Web) -> None:
    """The train form plans its first bundles; a bad week is explained and kept."""
    from datetime import date, timedelta

    start = (date.today() + timedelta(days=40)).isoformat()
    form = {"name": "Monthly web", "week_of_month": "2", "weekday": "tuesday",
            "start_date": start, "capacity_points": "30", "generate": "2"}  # fmt: skip
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        refused = client.post(
            "/release/trains", data={"csrf_token": csrf, **form, "weekday": "someday"}
        )
        assert refused.status_code == 422
        assert "is not a day of the week" in refused.text
        assert 'value="Monthly web"' in refused.text
        answer = client.post("/release/trains", data={"csrf_token": csrf, **form})
        assert answer.status_code == 200  # followed to the plan
        bundles = api(web, "GET", "/api/bundles", "rm")
        assert len(bundles) == 2
        assert all(b["capacity_points"] == 30 for b in bundles)
        generate = f"/release/trains/{bundles[0]['train_id']}/generate"
        again = client.post(generate, data={"csrf_token": csrf, "count": "2"})
        assert "next 2 deployments have bundles already" in again.text
        assert "nothing new was planned" in again.text
        more = client.post(generate, data={"csrf_token": csrf, "count": "3"})
        assert "1 new bundle planned." in more.text


def test_anyone_gets_a_calendar_subscription_link_that_works_without_a_session(
    web: Web,
) -> None:
    """The link is shown once and serves the release calendar to a calendar app."""
    api(web, "POST", "/api/trains", "rm", json=train_payload())
    with web.client() as client:
        csrf = web.sign_in(client, "vp.care")
        page = client.post("/release/calendar/subscribe", data={"csrf_token": csrf}).text
    link = page.split('<code style="word-break:break-all">')[1].split("</code>")[0]
    assert "token=" in link
    with web.client() as anonymous:
        feed = anonymous.get(link.replace("&amp;", "&"))
    assert feed.status_code == 200
    assert "BEGIN:VCALENDAR" in feed.text


def test_a_person_sees_their_calendar_links_and_revokes_one_from_the_plan_page(
    web: Web,
) -> None:
    """Each "Subscribe" made a link that works without signing in, for good: none was
    listed, and only the API could revoke one. Another's link is not theirs to revoke."""
    with web.client() as client:
        csrf = web.sign_in(client, "vp.care")
        page = client.post("/release/calendar/subscribe", data={"csrf_token": csrf}).text
        link = html.unescape(page.split('<code style="word-break:break-all">')[1].split("<")[0])
        links = page.split('<details id="calendar-links" open>')[1].split("</details>")[0]
        assert "Your calendar links (1)" in links
        (feed_id,) = re.findall(r"/release/calendar/feeds/([0-9a-f-]+)/revoke", links)
        other = api(web, "POST", "/api/calendar/feeds", "vp.sales", json={"label": "phone"})
        refused = client.post(
            f"/release/calendar/feeds/{other['feed_id']}/revoke", data={"csrf_token": csrf}
        )
        assert refused.status_code == 403
        revoked = client.post(
            f"/release/calendar/feeds/{feed_id}/revoke", data={"csrf_token": csrf}
        )
        assert "The calendar link is revoked" in revoked.text
        assert "Your calendar links" not in revoked.text  # none left
    with web.client() as anonymous:
        assert anonymous.get(link).status_code in (401, 403, 404)


def test_a_bundles_history_names_its_requests_and_its_change_by_title(web: Web) -> None:
    """The history's lines say which request was scheduled and under which change the
    bundle was approved by their titles, each a link to its page, not by their ids; the
    bundle's facts name its deployment change too."""
    bundle, request_id = scheduled_bundle(web)
    title = api(web, "GET", f"/api/requests/{request_id}", "rm")["title"]
    api(web, "POST", f"/api/bundles/{bundle}/freeze", "rm", json={})
    for stage, person in (("ready_for_qa", "dev.alice"), ("qa_passed", "qa.quinn")):
        path = f"/api/bundles/{bundle}/requests/{request_id}/progress"
        api(web, "POST", path, person, json={"stage": stage, "note": ""})
    api(web, "POST", f"/api/bundles/{bundle}/sign-off", "qa.quinn", json={"note": "green"})
    change = uuid.uuid4()
    publish(web.platform.log, contracts.CHANGE_RAISED, change, 1, actor="dev.alice",
            change_type="release_deployment", title="Deploy <March> & more", bundle_id=bundle,
            subsystems=["Billing"], window_start="2027-01-12T20:00:00+00:00",
            window_end="2027-01-13T02:00:00+00:00", requester="dev.alice",
            implementers=["ops.olga"], risk="medium")  # fmt: skip
    publish(web.platform.log, contracts.CHANGE_APPROVED, change, 2, approvers=["cab.carl"])
    web.app.state.followers.run_once()  # release approves the bundle for deployment
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get(f"/release/bundles/{bundle}").text
    assert re.search(r"<dt>Scope freeze</dt><dd>[^<]* · frozen [^<]+ by rm</dd>", page)
    history = page.split('<ol class="history">')[1].split("</ol>")[0]
    linked_request = f'<a href="/requests/{request_id}">{html.escape(title, quote=False)}</a>'
    linked_change = f'<a href="/changes/{change}">Deploy &lt;March&gt; &amp; more</a>'
    assert f"scheduled {linked_request}" in history
    assert f"{linked_request} passed QA" in history
    assert f"{linked_request} is ready for QA" in history
    assert f"approved for deployment under change {linked_change}" in history
    assert f"<dt>Deployment change</dt><dd>{linked_change}</dd>" in page
    words = re.sub(r"<[^>]+>", " ", history)  # what a reader sees, without the links' targets
    assert request_id not in words
    assert str(change) not in words


def test_a_duplicates_history_names_the_original_by_title(web: Web) -> None:
    original = submit(web, title="Single sign-on for the CRM")
    copy = submit(web, title="SSO for CRM")
    api(web, "POST", f"/api/requests/{copy}/duplicate", "rm", json={"duplicate_of": original})
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get(f"/requests/{copy}").text
    assert (
        f'marked as a duplicate of <a href="/requests/{original}">Single sign-on for the CRM</a>'
    ) in page


def test_the_release_manager_moves_resizes_and_cancels_a_bundle_from_its_page(web: Web) -> None:
    """A move without a reason is refused with what was typed kept; with one, the page says
    so and what it leaves to do; capacity and cancelling are recorded with their reasons,
    and a cancellation, which cannot be undone, only once it is confirmed."""
    bundle, _ = scheduled_bundle(web)
    page = f"/release/bundles/{bundle}"
    old = api(web, "GET", f"/api/bundles/{bundle}", "rm")["deploy_date"]
    later = (date.fromisoformat(old) + timedelta(days=7)).isoformat()
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        assert "Move the bundle" in client.get(page).text
        refused = client.post(f"{page}/move", data={"csrf_token": csrf, "deploy_date": later})
        assert refused.status_code == 422
        assert "Fill in the reason." in refused.text
        assert f'value="{later}"' in refused.text
        moved = client.post(
            f"{page}/move", data={"csrf_token": csrf, "deploy_date": later, "reason": "ops away"}
        )
        assert moved.status_code == 200
        assert moved.url.path == page  # a reload shows the page, it does not move again
        assert f"Moved to {later}; its milestones moved with it." in moved.text
        assert f"Moved to {later}" in client.get(str(moved.url)).text
        day, planned = date.fromisoformat(later), date.fromisoformat(old)
        moved_to = f"the date in its name; moved to deploy {day:%a} {day.day} {day:%b %Y}"
        assert moved_to in client.get(page).text
        assert f"moved from {planned.day} {planned:%b}" in client.get("/release").text
        resized = client.post(
            f"{page}/capacity", data={"csrf_token": csrf, "capacity_points": "55", "reason": ""}
        )
        assert "Capacity changed." in resized.text
        unconfirmed = client.post(f"{page}/cancel", data={"csrf_token": csrf, "reason": "merged"})
        assert unconfirmed.status_code == 422
        assert "Tick “Cancel it for good”" in unconfirmed.text
        assert 'value="merged"' in unconfirmed.text
        cancelled = client.post(
            f"{page}/cancel", data={"csrf_token": csrf, "reason": "merged", "confirm": "yes"}
        )
        assert "Bundle cancelled" in cancelled.text
        assert "Move the bundle" not in cancelled.text  # nothing to change any more
        plan = client.get("/release").text
        assert f"Was to deploy {day:%a} {day.day} {day:%b %Y}; it will not." in plan
        assert ": merged. Its requests went back to be planned into another bundle." in plan
    detail = api(web, "GET", f"/api/bundles/{bundle}", "rm")
    assert (detail["deploy_date"], detail["capacity_points"], detail["status"]) == (
        later,
        55,
        "cancelled",
    )


def test_the_bundle_page_says_when_a_request_went_ahead_of_its_departments_ranking(
    web: Web,
) -> None:
    bundle, _ = scheduled_bundle(web)  # its request is scheduled: nothing is skipped
    second, third = submit(web), submit(web)
    accept(web, second)
    accept(web, third)
    reference = api(web, "GET", f"/api/requests/{second}", "rm")["reference"]
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        offered = client.get(f"/release/bundles/{bundle}").text  # the schedule form's choice
        assert re.search(rf">{reference} [^<]+ \(Sales #2, 5 pts\)</option>", offered)
        page = client.post(
            f"/release/bundles/{bundle}/schedule", data={"csrf_token": csrf, "request_id": third}
        )
    assert page.status_code == 200
    assert "Request scheduled into the bundle." in page.text
    assert f"It went ahead of {reference}, which its department ranks above it" in page.text


def test_applying_part_of_the_plan_says_when_a_request_went_ahead_of_its_ranking(
    web: Web,
) -> None:
    """Ticking only a department's later request went past its earlier ones in silence,
    where scheduling it from the bundle's page says so. Applied together with them, it
    went past nothing."""
    bundle, _ = scheduled_bundle(web)
    second, third = submit(web), submit(web)
    accept(web, second)
    accept(web, third)
    reference = api(web, "GET", f"/api/requests/{second}", "rm")["reference"]
    mine = api(web, "GET", f"/api/requests/{third}", "rm")["reference"]
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        page = client.post(
            "/release/plan/apply", data={"csrf_token": csrf, "proposal": f"{third}:{bundle}"}
        )
    assert page.status_code == 200
    assert "1 request scheduled from the suggested plan." in page.text
    assert f"{mine} went ahead of {reference}, which its department ranks above it" in page.text
    fourth = submit(web)
    accept(web, fourth)
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        both = client.post(
            "/release/plan/apply",
            data={"csrf_token": csrf, "proposal": [f"{fourth}:{bundle}", f"{second}:{bundle}"]},
        )
    assert "2 requests scheduled from the suggested plan." in both.text
    assert "went ahead of" not in both.text


def page_after(web: Web, as_: str, address: str) -> str:
    with web.client() as client:
        web.sign_in(client, as_)
        return str(client.get(address).text)


def test_a_bundle_moved_ahead_of_another_says_which_it_now_overtakes(web: Web) -> None:
    """The train's second bundle moved to before its first: accepted, saying nothing of
    the work the departments ranked first, now shipping after it."""
    first, second, _ = api(web, "POST", "/api/trains", "rm", json=train_payload())["bundle_ids"]
    one = api(web, "GET", f"/api/bundles/{first}", "rm")
    day = date.fromisoformat(one["deploy_date"]) - timedelta(days=1)
    body = {"deploy_date": day.isoformat(), "reason": "the CRM team is away later"}
    moved = api(web, "POST", f"/api/bundles/{second}/move", "rm", json=body)
    said = f"it now deploys before {one['name']}, which was to deploy ahead of it"
    assert one["deploy_date"] in one["name"]  # named once, not "2027-01-12 (2027-01-12)"
    assert any(w.startswith(said) for w in moved["warnings"]), moved["warnings"]
    page = page_after(web, "rm", f"/release/bundles/{second}?done=moved")
    assert html.unescape(said[1:]) in html.unescape(page)  # begun with a capital there
