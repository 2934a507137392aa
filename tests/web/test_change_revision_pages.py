"""Revising a change from its page, in the raise form filled with its plan: the CAB then
approves it again. A release deployment left on its moved bundle's old date is put back
on the bundle's window by leaving the window empty."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.release.builders import train_payload
from tests.web.conftest import Web
from tests.web.test_change_pages import raise_change, raise_form
from tests.web.test_release_pages import api


def test_the_raiser_revises_a_change_from_its_page_and_its_approvals_are_voided(
    web: Web,
) -> None:
    change_id = raise_change(web)
    api(web, "POST", f"/api/changes/{change_id}/approve", "cab.carl", json={})
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        page = client.get(f"/changes/{change_id}").text
        assert f'href="/changes/{change_id}/revise"' in page
        form = client.get(f"/changes/{change_id}/revise").text
        assert 'value="Patch the billing database"' in form
        assert "every approval it has is voided" in form
        refused = client.post(
            f"/changes/{change_id}/revise",
            data={"csrf_token": csrf, **raise_form(title="", test_evidence="Kept as typed")},
        )
        assert refused.status_code == 422
        assert "Fill in the title." in refused.text
        assert "Kept as typed" in refused.text
        saved = client.post(
            f"/changes/{change_id}/revise",
            data={"csrf_token": csrf, **raise_form(title="Patch the billing database twice")},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
        assert client.get(saved.headers["location"]).text.count("it waits for the CAB again") == 1
    detail = api(web, "GET", f"/api/changes/{change_id}", "dev.alice")
    assert (detail["title"], detail["revision"], detail["status"]) == (
        "Patch the billing database twice",
        2,
        "in_review",
    )
    assert detail["approvals"] == []


def test_someone_not_on_the_change_may_not_revise_it(web: Web) -> None:
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "qa.quinn")
        assert "/revise" not in client.get(f"/changes/{change_id}").text
        refused = client.post(
            f"/changes/{change_id}/revise", data={"csrf_token": csrf, **raise_form(title="Mine")}
        )
    assert refused.status_code == 403
    assert "Only the requester, an implementer or a release manager may revise it." in (
        refused.text
    )
    assert api(web, "GET", f"/api/changes/{change_id}", "rm")["title"] != "Mine"


def test_a_release_change_revised_without_a_window_takes_its_moved_bundles(web: Web) -> None:
    """The page a move leads to says the bundle's release change is to be revised."""
    bundle = api(web, "POST", "/api/trains", "rm", json=train_payload())["bundle_ids"][0]
    api(web, "POST", f"/api/bundles/{bundle}/freeze", "rm", json={"note": "ready"})
    release = {"change_type": "release_deployment", "bundle_id": bundle, "title": "Deploy it",
               "window_start": "", "window_end": ""}  # fmt: skip
    change_id = raise_change(web, as_="rm", **release)
    old = api(web, "GET", f"/api/bundles/{bundle}", "rm")["deploy_date"]
    later = (date.fromisoformat(old) + timedelta(days=7)).isoformat()
    with web.client() as client:
        csrf = web.sign_in(client, "rm")
        page = client.post(
            f"/release/bundles/{bundle}/move",
            data={"csrf_token": csrf, "deploy_date": later, "reason": "ops away"},
        )
        assert "“Deploy it” was planned for the old date: revise its window" in page.text
        gates = api(web, "GET", f"/api/changes/{change_id}", "rm")["gates"]
        assert {g["name"]: g["met"] for g in gates}["bundle_window"] is False
        form = client.get(f"/changes/{change_id}/revise").text
        assert "Left empty, the window is the bundle's deployment window" in form
        saved = client.post(
            f"/changes/{change_id}/revise",
            data={"csrf_token": csrf, **raise_form(**release)},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text
    detail = api(web, "GET", f"/api/changes/{change_id}", "rm")
    moved = api(web, "GET", f"/api/bundles/{bundle}", "rm")
    assert detail["window_start"][:16] == moved["window_start"][:16]
    assert {g["name"]: g["met"] for g in detail["gates"]}["bundle_window"] is True


def test_the_cab_sees_a_moved_bundles_window_in_the_business_time_zone(
    new_york: Web,
) -> None:
    web = new_york
    bundle = api(web, "POST", "/api/trains", "rm", json=train_payload())["bundle_ids"][0]
    release = {"change_type": "release_deployment", "bundle_id": bundle, "title": "Deploy it",
               "window_start": "", "window_end": ""}  # fmt: skip
    change_id = raise_change(web, as_="rm", **release)
    old = api(web, "GET", f"/api/bundles/{bundle}", "rm")["deploy_date"]
    later = (date.fromisoformat(old) + timedelta(days=7)).isoformat()
    api(web, "POST", f"/api/bundles/{bundle}/move", "rm",
        json={"deploy_date": later, "reason": "ops away"})  # fmt: skip
    start = api(web, "GET", f"/api/bundles/{bundle}", "rm")["window_start"]
    local = datetime.fromisoformat(start).astimezone(ZoneInfo("America/New_York"))
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        page = client.get(f"/changes/{change_id}").text
    assert "the bundle deploys " + f"{local:%d %b %Y %H:%M}".lstrip("0") in page
    assert " UTC, outside" not in page  # the API's detail names UTC; the page does not


def test_a_rejected_change_is_raised_again_from_its_page_with_its_plan_filled_in(
    web: Web,
) -> None:
    """ "A new change may be raised to try again", the notification says: it meant
    typing the whole plan again."""
    change_id = raise_change(web)
    api(web, "POST", f"/api/changes/{change_id}/reject", "cab.carl", json={"reason": "no"})
    with web.client() as client:
        web.sign_in(client, "dev.alice")
        page = client.get(f"/changes/{change_id}").text
        assert f'href="/changes/new?again_from={change_id}"' in page
        form = client.get(f"/changes/new?again_from={change_id}").text
    assert 'value="Patch the billing database"' in form
    assert 'action="/changes/new"' in form


def test_a_comment_on_a_change_naming_nobody_says_so(web: Web) -> None:
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        page = client.post(
            f"/changes/{change_id}/comments",
            data={"csrf_token": csrf, "text": "Ask @ops.olgaa about the backout"},
        )
    assert "@ops.olgaa names nobody here, so nobody was told" in page.text


def test_a_revisions_history_line_names_what_changed_for_the_cab_to_approve_again(
    web: Web,
) -> None:
    """The CAB re-approves knowing the window's end moved, from and to, and that the
    plan's text changed, not only that the change was revised."""
    day = (datetime.now() + timedelta(days=10)).date().isoformat()
    window = {"window_start": f"{day}T16:00", "window_end": f"{day}T18:00"}
    change_id = raise_change(web, **window)
    api(web, "POST", f"/api/changes/{change_id}/approve", "cab.carl", json={})
    moved = raise_form(
        window_start=f"{day}T16:00",
        window_end=f"{day}T19:00",
        implementation_plan="Patch the replica first, then the primary.",
    )
    saved = web.submit("dev.alice", f"/changes/{change_id}/revise", moved)  # type: ignore[arg-type]
    assert saved.status_code == 303, saved.text
    with web.client() as client:
        web.sign_in(client, "cab.carl")
        page = client.get(f"/changes/{change_id}").text
    shown = date.fromisoformat(day).strftime("%d %b %Y").lstrip("0")
    assert (
        f"revised the change (revision 2): window end from {shown} 18:00 to 19:00 UTC;"
        " implementation plan changed; approvals voided: cab.carl"
    ) in page
