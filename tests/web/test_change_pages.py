"""Change control's pages in-process: raise, approve, refuse; roles and separation of
duties enforced by the same use cases as the API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.logs import captured_logs
from tests.web.conftest import Web


def raise_form(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    start = datetime.now().replace(microsecond=0, second=0) + timedelta(hours=1)
    form: dict[str, str | list[str]] = {
        "change_type": "normal",
        "title": "Patch the billing database",
        "subsystems": ["Billing"],
        "window_start": start.isoformat(timespec="minutes"),
        "window_end": (start + timedelta(hours=2)).isoformat(timespec="minutes"),
        "implementation_plan": "Apply patch 42 to the primary, then the replica.",
        "backout_plan": "Restore the snapshot taken before the patch.",
        "test_evidence": "Applied in staging on Monday.",
        "implementers": ["dev.alice"],
        "impact": "minor",
        "likelihood": "unlikely",
        "affected_users": "none",
        "backout_tested": "yes",
    }
    form.update(overrides)
    return form


def raise_change(web: Web, as_: str = "dev.alice", **overrides: str | list[str]) -> str:
    with web.client() as client:
        csrf = web.sign_in(client, as_)
        answer = client.post(
            "/changes/new",
            data={"csrf_token": csrf, **raise_form(**overrides)},
            follow_redirects=False,
        )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).split("/changes/")[1].split("?")[0]


def test_it_staff_raise_a_change_and_the_cab_approves_it_from_the_queue(web: Web) -> None:
    """The raised change waits in a CAB member's queue with its risk and gates; one
    approval (low risk) approves it."""
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        queue = client.get("/cab").text
        assert "Patch the billing database" in queue
        assert "Low risk" in queue
        assert "0 of 1 approvals" in queue
        # A rejection without a reason is stopped in the browser, before the page is
        # left with what was typed beside it.
        assert 'placeholder="Why not (required to reject)" required' in queue
        answer = client.post(
            f"/changes/{change_id}/approve",
            data={"csrf_token": csrf, "revision": "1"},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/cab?done=approved"
        detail = client.get(f"/changes/{change_id}").text
    assert '<span class="pill approved">Approved</span>' in detail
    assert "Applied in staging on Monday." in detail  # the test evidence typed in
    assert "users affected: none" in detail
    assert "<strong>cab.carl</strong> approved revision 1 <small>" in detail
    assert (
        "<strong>cab.carl</strong> completed the approvals it needs: the change is approved"
        " (CAB: cab.carl)"
    ) in detail


def test_approval_is_offered_only_once_every_gate_is_met(web: Web) -> None:
    """A change without a backout plan waits in the queue with its Approve disabled and
    the reason beside it (it used to be offered, and refused when clicked); the refusal
    still holds for a form sent anyway."""
    blocked = raise_change(web, title="Swap the load balancer", backout_plan="")
    ready = raise_change(web, title="Rotate the certificates")
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        queue = client.get("/cab").text
        detail = client.get(f"/changes/{blocked}").text
        sent = client.post(
            f"/changes/{blocked}/approve", data={"csrf_token": csrf, "revision": "1"}
        )
    cards = {
        c.split("</a>")[0].rsplit(">", 1)[-1]: c for c in queue.split('<article class="card"')[1:]
    }
    assert (
        f'disabled aria-describedby="blocked-{blocked}">Approve' in cards["Swap the load balancer"]
    )
    assert "Approval opens once every gate is met." in cards["Swap the load balancer"]
    assert "Approval opens" not in cards["Rotate the certificates"]
    assert f"blocked-{ready}" not in queue
    assert 'disabled aria-describedby="blocked">Approve' in detail
    assert sent.status_code == 409
    assert "write how the change is backed out" in sent.text


def test_codes_read_as_words_with_their_acronyms() -> None:
    """Labels made from codes keep IT, QA and CAB in capitals."""
    from shared.web.rendering import label

    assert [label(c) for c in ("it_project", "in_qa", "qa_passed", "info_requested")] == [
        "IT project", "In QA", "QA passed", "Info requested"
    ]  # fmt: skip


def test_a_refused_change_keeps_what_was_typed(web: Web) -> None:
    """A window that ends before it starts is explained next to the form, which keeps
    every field; nothing is written."""
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        before = web.events()
        form = raise_form(window_end="2020-01-01T00:00", title="Rotate the TLS certificates")
        answer = client.post("/changes/new", data={"csrf_token": csrf, **form})
    assert answer.status_code == 422
    assert "The window ends before it starts: give an end after the start." in answer.text
    assert 'value="Rotate the TLS certificates"' in answer.text
    assert web.events() == before


def test_a_change_form_names_every_missing_field_at_once(web: Web) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        form = {**raise_form(title="", subsystems=[], implementers=[]), "csrf_token": csrf}
        answer = client.post("/changes/new", data=form)
    assert answer.status_code == 422
    assert "Fill in the title, at least one subsystem and at least one implementer." in answer.text
    with web.client() as client:  # the risk questions with the rest, not on the next submit
        csrf = web.sign_in(client, "dev.alice")
        bare = {**raise_form(subsystems=[], impact="", likelihood=""), "csrf_token": csrf}
        both = client.post("/changes/new", data=bare)
    assert "Fill in at least one subsystem, the impact and the likelihood." in both.text


def test_nobody_approves_their_own_change(web: Web) -> None:
    """An implementer who sits on the CAB does not see their change in the queue, and a
    crafted approval is refused with the rule's message; nothing is written."""
    change_id = raise_change(web, "ops.olga", implementers=["ops.olga"])
    with web.client() as client:
        csrf = web.sign_in(client, "ops.olga")
        assert "Patch the billing database" not in client.get("/cab").text
        before = web.events()
        answer = client.post(
            f"/changes/{change_id}/approve", data={"csrf_token": csrf, "revision": "1"}
        )
    assert answer.status_code == 403
    assert web.events() == before


def test_a_cab_member_is_not_offered_to_judge_a_change_they_raised_and_is_told_why(
    web: Web,
) -> None:
    """Their change's page offered them Reject, which the change then refused (403); it
    offers no decision, says why, and offers to withdraw it instead."""
    change_id = raise_change(web, "ops.olga", implementers=["dev.alice"])
    with web.client() as client:
        web.sign_in(client, "ops.olga")
        own = client.get(f"/changes/{change_id}").text
        web.sign_in(client, "cab.carl")
        other = client.get(f"/changes/{change_id}").text
    assert "/reject" not in own
    assert "Your decision" not in own
    assert "You raised this change, so the CAB's other members approve, reject" in own
    assert "Withdraw the change" in own
    assert f'action="/changes/{change_id}/reject"' in other
    assert "Withdraw the change" not in other  # neither raised nor implements it


def test_whoever_raised_a_change_withdraws_it_from_its_page_with_a_reason(web: Web) -> None:
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        empty = client.post(
            f"/changes/{change_id}/withdraw", data={"csrf_token": csrf, "reason": ""}
        )
        answer = client.post(
            f"/changes/{change_id}/withdraw",
            data={"csrf_token": csrf, "reason": "The vendor pulled the patch"},
            follow_redirects=False,
        )
        page = client.get(answer.headers["location"]).text
        queue = client.get("/api/cab-queue", headers=web.people.headers("cab.carl")).json()
    assert empty.status_code == 422
    assert "Patch the billing database" in empty.text  # the page, with its error
    assert answer.status_code == 303
    assert "The change is withdrawn: it will not be implemented." in page
    assert '<span class="pill withdrawn">Withdrawn</span>' in page
    assert "Withdraw the change" not in page
    assert [c for c in queue if c["id"] == change_id] == []


@pytest.mark.parametrize(
    ("username", "path", "form"),
    [
        ("vp.sales", "/changes/new", {"title": "x"}),
        ("rm", "/changes/{c}/approve", {"revision": "1"}),
        ("dev.alice", "/changes/{c}/reject", {"reason": "no"}),
        ("cab.carl", "/changes/{c}/start", {}),
    ],
)
def test_a_change_form_of_another_role_is_403_and_writes_nothing(
    web: Web, username: str, path: str, form: dict[str, str]
) -> None:
    """Each change-control form posted by a role it is not for is refused before it runs."""
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, username)
        before = web.events()
        answer = client.post(path.replace("{c}", change_id), data={"csrf_token": csrf, **form})
    assert answer.status_code == 403
    assert "Not for your role" in answer.text
    assert web.events() == before


def test_calendar_shows_changes_and_blackouts_day_by_day(web: Web) -> None:
    """Everyone reads the calendar: the change on its day, the blackout marked."""
    raise_change(web, title="Upgrade the CRM search index")
    with web.client() as client:
        blackout_start = datetime.now().astimezone().replace(microsecond=0)
        answer = client.post(
            "/api/blackouts",
            json={
                "name": "Billing run",
                "start": blackout_start.isoformat(),
                "end": (blackout_start + timedelta(hours=6)).isoformat(),
                "subsystems": ["Billing"],
                "reason": "Month-end billing",
            },
            headers=web.people.headers("rm"),
        )
        assert answer.status_code < 300, answer.text
        web.sign_in(client, "vp.sales")
        page = client.get("/changes/calendar").text
    assert "Upgrade the CRM search index" in page
    assert "blackout: Billing run" in page
    assert '<a href="/changes/calendar?days=90">90 days</a>' in page
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        longer = client.get("/changes/calendar", params={"days": 90}).text
    assert "the next 90 days" in longer
    assert '<a href="/changes/calendar?days=30">30 days</a>' in longer  # not 90 again
    assert "?days=90" not in longer


def test_an_overnight_window_is_listed_on_its_day_and_only_continues_on_the_next(
    web: Web,
) -> None:
    """A change from 22:00 to 02:00 is listed in full on the day it starts; the next day
    says it continues until 02:00 (it used to be listed in full on both)."""
    evening = (datetime.now() + timedelta(days=2)).replace(hour=22, minute=0, second=0)
    raise_change(
        web,
        title="Move the billing database",
        window_start=evening.isoformat(timespec="minutes"),
        window_end=(evening + timedelta(hours=4)).isoformat(timespec="minutes"),
    )
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/changes/calendar").text
    days = [d for d in page.split('<section class="card day')[1:] if "Move the billing" in d]
    assert len(days) == 2
    starts, continues = days
    assert "In review" in starts
    assert "continues:" not in starts
    assert "In review" not in continues
    assert 'continues: <span class="ref">CHG-1</span> <a' in continues
    assert "until" in continues
    assert "02:00" in continues
    # The window names the business time zone its times are in.
    assert re.search(r"22:00 \u2013 \d+ \w+ \d{4} 02:00 UTC", starts), starts


def test_a_window_within_a_day_names_its_date_once_and_its_time_zone(new_york: Web) -> None:
    web = new_york
    morning = (datetime.now() + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    raise_change(
        web,
        title="Rotate the CRM certificates",
        window_start=morning.isoformat(timespec="minutes"),
        window_end=(morning + timedelta(hours=2)).isoformat(timespec="minutes"),
    )
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        page = client.get("/cab").text
    said = f"{morning.day} {morning:%b %Y} 10:00 \u2013 12:00 E[SD]T"  # New York's
    assert re.search(said, page), page


def test_release_manager_raises_a_bundles_release_deployment_from_its_page(web: Web) -> None:
    """From a frozen bundle's page the release manager raises its release deployment; the
    change names the bundle and waits for the CAB."""
    from tests.release.builders import train_payload

    with web.client() as client:
        bundle = client.post(
            "/api/trains", json=train_payload(), headers=web.people.headers("rm")
        ).json()["bundle_ids"][0]
        frozen = client.post(
            f"/api/bundles/{bundle}/freeze",
            json={"note": "ready"},
            headers=web.people.headers("rm"),
        )
        assert frozen.status_code == 200, frozen.text
        csrf = web.sign_in(client, "rm")
        assert f"/changes/new?bundle_id={bundle}" in client.get(f"/release/bundles/{bundle}").text
        form_page = client.get("/changes/new", params={"bundle_id": bundle}).text
        assert "Release deployment of" in form_page
        form = raise_form(
            change_type="release_deployment",
            bundle_id=bundle,
            title="Deploy it",
            window_start="",
            window_end="",
        )
        answer = client.post(
            "/changes/new", data={"csrf_token": csrf, **form}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        change_id = answer.headers["location"].split("/changes/")[1].split("?")[0]
        detail = client.get(f"/api/changes/{change_id}", headers=web.people.headers("rm")).json()
        change_page = client.get(f"/changes/{change_id}").text
        # The bundle now names its change, and offers no second one while it is open.
        page = client.get(f"/release/bundles/{bundle}").text
        assert f'<a href="/changes/{change_id}">Deploy it</a> · awaiting the CAB' in page
        assert "Raise the release deployment change" not in page
        withdrawn = client.post(
            f"/api/changes/{change_id}/withdraw",
            json={"reason": "wrong window"},
            headers=web.people.headers("rm"),
        )
        assert withdrawn.status_code == 200, withdrawn.text
        page = client.get(f"/release/bundles/{bundle}").text
        assert "awaiting the CAB" not in page
        assert "Raise the release deployment change" in page
    assert detail["change_type"] == "release_deployment"
    assert detail["bundle_id"] == bundle
    # What it ships, for the CAB judging it: the bundle, linked, and its scope's size.
    assert detail["bundle"]["bundle_id"] == bundle
    assert detail["bundle"]["requests"] == 0
    assert f'Ships release bundle <a href="/release/bundles/{bundle}">' in change_page


def approved_now(web: Web, as_: str = "dev.alice", **overrides: str | list[str]) -> str:
    """A change raised with its window open now, approved by cab.carl."""
    start = datetime.now().replace(microsecond=0, second=0) - timedelta(minutes=10)
    change_id = raise_change(
        web,
        as_,
        window_start=start.isoformat(timespec="minutes"),
        window_end=(start + timedelta(hours=2)).isoformat(timespec="minutes"),
        **overrides,
    )
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        client.post(f"/changes/{change_id}/approve", data={"csrf_token": csrf, "revision": "1"})
    return change_id


def test_an_implementer_records_a_failure_and_the_cab_reviews_it(web: Web) -> None:
    """Start and complete as the implementer (a failure needs notes), then a CAB member
    records the post-implementation review from the change's page."""
    change_id = approved_now(web)
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        assert "Start implementing" in client.get(f"/changes/{change_id}").text
        client.post(f"/changes/{change_id}/start", data={"csrf_token": csrf})
        refused = client.post(
            f"/changes/{change_id}/complete", data={"csrf_token": csrf, "outcome": "failed"}
        )
        assert refused.status_code == 422
        done = client.post(
            f"/changes/{change_id}/complete",
            data={"csrf_token": csrf, "outcome": "failed", "notes": "Replica refused the patch"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        # The calendar says how it went, as its page and the list do (a grey "Completed").
        calendar = client.get("/changes/calendar").text
        assert '<span class="pill failed">Completed: failed</span>' in calendar
    with web.client() as client:
        csrf = web.sign_in(client, "cab.dora")
        assert "Post-implementation review" in client.get(f"/changes/{change_id}").text
        answer = client.post(
            f"/changes/{change_id}/review",
            data={"csrf_token": csrf, "findings": "Replica lagged", "actions": "Check lag first"},
            follow_redirects=False,
        )
    assert answer.status_code == 303, answer.text


def test_the_cab_asks_and_the_implementer_answers_on_the_change_page(web: Web) -> None:
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        assert f'action="/changes/{change_id}/comments"' in client.get(f"/changes/{change_id}").text
        sent = client.post(
            f"/changes/{change_id}/comments",
            data={"csrf_token": csrf, "text": "How long does the restore take?"},
            follow_redirects=False,
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/changes/{change_id}?done=commented#comment"
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        page = client.get(f"/changes/{change_id}").text
    assert '<li class="comment"><strong>cab.carl</strong> commented' in page
    assert "How long does the restore take?" in page
    assert f'action="/changes/{change_id}/comments"' in page


def test_a_vp_reads_a_changes_conversation_but_cannot_join_it(web: Web) -> None:
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        assert "/comments" not in client.get(f"/changes/{change_id}").text
        before = web.events()
        refused = client.post(
            f"/changes/{change_id}/comments", data={"csrf_token": csrf, "text": "When?"}
        )
    assert refused.status_code == 403
    assert "Not for your role" in refused.text
    assert web.events() == before


def test_a_refused_comment_on_a_change_keeps_what_was_typed(web: Web) -> None:
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        before = web.events()
        long = "Check the replica lag first. " * 200
        refused = client.post(
            f"/changes/{change_id}/comments", data={"csrf_token": csrf, "text": long}
        )
    assert refused.status_code == 422
    assert "Comment is longer than 5000 characters" in refused.text
    assert long.strip() in refused.text
    assert web.events() == before


def test_a_change_whose_window_has_not_opened_says_when_it_may_start(web: Web) -> None:
    """The button was offered days early, and pressing it answered with the window's
    bounds as stored and no reason."""
    start = datetime.now().replace(microsecond=0, second=0) + timedelta(days=3)
    later = {
        "window_start": start.isoformat(timespec="minutes"),
        "window_end": (start + timedelta(hours=2)).isoformat(timespec="minutes"),
    }
    change_id = raise_change(web, "dev.alice", **later)
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        client.post(f"/changes/{change_id}/approve", data={"csrf_token": csrf, "revision": "1"})
        csrf = web.sign_in(client, "dev.alice")
        page = client.get(f"/changes/{change_id}").text
        assert 'disabled aria-describedby="window-shut">Start implementing</button>' in page
        assert "It starts in its window, which opens" in page
        early = client.post(f"/changes/{change_id}/start", data={"csrf_token": csrf})
        assert early.status_code == 409, early.text
        assert "Not saved.</strong> It starts in its window, which opens" in early.text


def test_approving_ones_own_change_from_its_page_is_logged_as_a_security_refusal(
    web: Web,
) -> None:
    """The API logged the breach of separation of duties; the page's form did not."""
    change_id = raise_change(web, "ops.olga", implementers=["ops.olga"])
    with web.client() as client, captured_logs() as logs:
        csrf = web.sign_in(client, "ops.olga")
        answer = client.post(
            f"/changes/{change_id}/approve", data={"csrf_token": csrf, "revision": "1"}
        )
    assert answer.status_code == 403
    refused = [e for e in logs if e["event"] == "security_rule_refused"]
    assert [(e["rule"], e["user"], e["via"]) for e in refused] == [
        ("requester_cannot_approve", "ops.olga", "page")
    ]


def test_a_changes_page_shows_the_deployments_reported_under_it_and_those_refused(
    web: Web,
) -> None:
    """The API listed them; the page showed neither the deployment made under the change
    nor the one that named it from outside its window (unauthorised)."""
    change_id = approved_now(web)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    with web.client() as client:
        for when in (None, yesterday):
            body = {"subsystem": "Billing", "version": "4.2.0", "change_id": change_id}
            if when:
                body["deployed_at"] = when
            sent = client.post(
                "/api/deployments", json=body, headers=web.people.headers("pipeline")
            )
            assert sent.status_code == 201, sent.text
        web.sign_in(client, "rm")
        page = client.get(f"/changes/{change_id}").text
    section = page.split("<h2>Deployments reported (2)</h2>")[1].split("</section>")[0]
    assert "Under this change" in section
    assert "Unauthorised</span> Outside window" in section
    assert section.count("Billing 4.2.0") == 2


def test_the_deployment_reports_list_shows_the_unauthorised_with_why(web: Web) -> None:
    """The dashboard counted unauthorised changes and no page listed them: its count now
    opens this list, of the period's days."""
    change_id = approved_now(web)
    with web.client() as client:
        pipeline = web.people.headers("pipeline")
        for body in (
            {"subsystem": "Billing", "version": "4.2.0", "change_id": change_id},
            {"subsystem": "CRM", "version": "7.1"},
        ):
            assert client.post("/api/deployments", json=body, headers=pipeline).status_code == 201
        web.sign_in(client, "rm")
        every = client.get("/deployments").text
        only = client.get("/deployments", params={"taken": "unauthorised"}).text
        dashboard = client.get("/dashboard").text
    assert "2 reports" in every
    assert 'Under <span class="ref">CHG-1</span>' in every
    assert "Billing 4.2.0" in every
    assert "1 report," in only
    assert "CRM 7.1" in only
    assert "Billing 4.2.0" not in only
    assert "Unauthorised</span> No approved change" in only
    assert re.search(r"/deployments\?taken=unauthorised&amp;from=\d{4}-\d\d-01&amp;to=", dashboard)


def test_a_release_deployment_starts_with_every_subsystem_its_bundles_requests_touch(
    web: Web,
) -> None:
    """The release deployment form ticked no subsystem: one the operator missed made the
    pipeline's deployment of it unauthorised. It starts from the bundle's scope, as it
    stands: a request taken out takes its subsystems with it."""
    from tests.web.test_intake_pages import accept, submit
    from tests.web.test_release_pages import api, scheduled_bundle

    bundle, _ = scheduled_bundle(web)  # Billing and CRM
    for subsystems in (["Billing", "Provisioning"], ["Data Warehouse"]):
        request_id = submit(web, subsystems=subsystems)
        accept(web, request_id)
        api(web, "POST", f"/api/bundles/{bundle}/requests", "rm", json={"request_id": request_id})
    api(web, "POST", f"/api/bundles/{bundle}/requests/{request_id}/remove", "rm", json={})  # DW
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/changes/new", params={"bundle_id": bundle}).text
    ticked = re.findall(r'name="subsystems" value="([^"]+)" checked', page)
    assert ticked == ["Billing", "CRM", "Provisioning"]
    assert "the bundle's requests touch Billing, CRM, Provisioning" in page


def test_the_retrospective_approver_may_reject_an_emergency_change_from_its_page_as_from_the_queue(
    web: Web,
) -> None:
    """After its emergency approval the change's page offered cab.carl only "Retrospective
    approval" while the CAB queue offered Approve and Reject for the same change: both
    offer what the change allows, and the page's rejection is taken."""
    change_id = raise_change(web, change_type="emergency", implementers=["dev.alice"])
    with web.client() as client:
        csrf = web.sign_in(client, "cab.dora")
        given = client.post(
            f"/changes/{change_id}/approve",
            data={"csrf_token": csrf, "revision": "1"},
            follow_redirects=False,
        )
        assert given.status_code == 303, given.text
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        queue = client.get("/cab").text
        page = client.get(f"/changes/{change_id}").text
        assert f'action="/changes/{change_id}/reject"' in queue
        assert f'action="/changes/{change_id}/approve"' in page
        assert f'action="/changes/{change_id}/reject"' in page
        rejected = client.post(
            f"/changes/{change_id}/reject",
            data={"csrf_token": csrf, "reason": "No incident justified skipping the CAB"},
            follow_redirects=False,
        )
        assert rejected.status_code == 303, rejected.text
        after = client.get(f"/changes/{change_id}").text
    assert '<span class="pill rejected">Rejected</span>' in after


def test_an_emergency_change_under_way_offers_no_rejection_the_change_would_refuse(
    web: Web,
) -> None:
    """Once work started, a rejection is refused (reject_after_start): neither the queue
    nor the page offers one, while the approval in retrospect is still asked for."""
    change_id = raise_change(web, change_type="emergency", implementers=["dev.alice"])
    with web.client() as client:
        csrf = web.sign_in(client, "cab.dora")
        client.post(f"/changes/{change_id}/approve", data={"csrf_token": csrf, "revision": "1"})
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        started = client.post(
            f"/changes/{change_id}/start", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert started.status_code == 303, started.text
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        queue = client.get("/cab").text
        page = client.get(f"/changes/{change_id}").text
    for shown in (queue, page):
        assert f'action="/changes/{change_id}/approve"' in shown
        assert f'action="/changes/{change_id}/reject"' not in shown
