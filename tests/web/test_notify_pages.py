"""The notification settings page every email links to: topics by role, channels, a
personal webhook, followed bundles; and following a request or a change from its page."""

from __future__ import annotations

import re
import uuid

from tests.builders import request_payload
from tests.notify.test_api import planned_bundle
from tests.web.conftest import Web
from tests.web.test_change_pages import raise_change

PAGE = "/settings/notifications"


def selected(html: str, topic: str) -> str:
    select = re.search(rf'<select id="topic-{topic}".*?</select>', html, re.S)
    assert select, f"no choice for {topic}"
    found = re.search(r'<option value="(\w+)" selected>', select.group(0))
    assert found
    return found.group(1)


def test_everyone_chooses_what_they_hear_about_on_their_notifications_page(web: Web) -> None:
    """A VP sees the topics that can reach a requester, with their role's defaults, and
    saves a choice; an unchanged default stays a default."""
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        page = client.get(PAGE)
        assert page.status_code == 200
        assert "Your department&#39;s requests" in page.text
        assert "awaiting your approval" not in page.text  # never sent to a requester
        assert "No email address is on file" in page.text
        assert selected(page.text, "department_requests") == "email"
        before = web.events()
        saved = client.post(
            PAGE,
            data={
                "csrf_token": csrf,
                "topic.department_requests": "digest",
                "topic.followed_bundles": "email",
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303
        page = client.get(saved.headers["location"])
    assert "Saved" in page.text
    assert selected(page.text, "department_requests") == "digest"
    # followed bundles, mentions, conversations and followed items: still the defaults
    assert page.text.count(">default</small>") == 4
    assert web.events() == before + 2  # the person's subscriptions began, one choice


def test_the_webhook_channel_without_a_webhook_is_refused_and_writes_nothing(web: Web) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "cab.carl")
        before = web.events()
        page = client.post(PAGE, data={"csrf_token": csrf, "topic.approvals": "webhook"})
    assert page.status_code == 409
    assert "Not saved." in page.text
    assert "Set your webhook URL before choosing the webhook channel." in page.text
    assert selected(page.text, "approvals") == "webhook"  # what was picked stays picked
    assert web.events() == before


def test_a_personal_webhook_shows_its_secret_once_and_bundles_are_followed(web: Web) -> None:
    bundle = planned_bundle(web.platform)
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        set_up = client.post(
            f"{PAGE}/webhook", data={"csrf_token": csrf, "url": "https://chat.example.com/h/1"}
        )
        assert set_up.status_code == 200
        assert "whsec_" in set_up.text
        assert "whsec_" not in client.get(PAGE).text
        followed = client.post(
            f"{PAGE}/follow", data={"csrf_token": csrf, "bundle_id": bundle}, follow_redirects=True
        )
        assert f"/release/bundles/{bundle}" in followed.text
        before = web.events()
        refused = client.post(f"{PAGE}/follow", data={"csrf_token": csrf, "bundle_id": "x"})
        assert refused.status_code == 422
        assert web.events() == before
        gone = client.post(
            f"{PAGE}/unfollow",
            data={"csrf_token": csrf, "bundle_id": bundle},
            follow_redirects=True,
        )
    assert "You no longer follow the bundle." in gone.text
    assert f"/release/bundles/{bundle}" not in gone.text


def test_a_leaked_webhook_secret_is_replaced_from_the_page(web: Web) -> None:
    replace = f"{PAGE}/webhook/replace-secret"
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        assert "Replace secret" not in client.get(PAGE).text  # no webhook, no secret
        refused = client.post(replace, data={"csrf_token": csrf})
        assert refused.status_code == 409
        assert "You have no webhook" in refused.text
        set_up = client.post(
            f"{PAGE}/webhook", data={"csrf_token": csrf, "url": "https://chat.example.com/h/1"}
        )
        first = re.findall(r"whsec_\w+", set_up.text)
        assert "Replace secret" in set_up.text
        version = re.search(r'name="replacing" value="(\d+)"', set_up.text)
        assert version is not None
        form = {"csrf_token": csrf, "replacing": version.group(1)}
        replaced = client.post(replace, data=form)
        new = re.findall(r"whsec_\w+", replaced.text)
        assert replaced.status_code == 200
        assert "secret is replaced" in replaced.text
        assert len(first) == len(new) == 1
        assert first != new
        # A reload sends the same form again: the secret just shown stays the one in force.
        assert re.findall(r"whsec_\w+", client.post(replace, data=form).text) == new
        assert "whsec_" not in client.get(PAGE).text  # shown after saving or replacing only


def test_what_someone_was_told_is_on_their_page_even_when_email_could_not_bring_it(
    web: Web,
) -> None:
    with web.client() as client:
        headers = web.people.headers("vp.sales")
        submitted = client.post("/api/requests", json=request_payload(), headers=headers)
        request_id = submitted.json()["id"]
        accepted = client.post(
            f"/api/requests/{request_id}/accept",
            json={"owner": "dev.alice", "size_points": 5},
            headers=web.people.headers("rm"),
        )
        assert accepted.status_code == 200, accepted.text
        web.sign_in(client, "vp.sales")
        page = client.get(PAGE).text
        web.sign_in(client, "metrics.mo")
        nothing = client.get(PAGE).text
    told = page.split('id="told"')[1].split("</section>")[0]
    assert (
        f'<a href="/requests/{request_id}">Accepted: REQ-1 “Bill shock alerts by SMS”</a>' in told
    )
    assert "not sent by email: no email address on file" in told
    assert "IT owner (the single point of contact): dev.alice." in told
    assert "Nothing yet" in nothing


def test_anyone_follows_a_request_from_its_page_and_stops_from_their_notifications(
    web: Web,
) -> None:
    """vp.care follows a Sales request: the page's button, loaded from the notification
    service, turns into "Following" in place (htmx); without JavaScript the form opens
    her notifications page, which lists what she follows, and stops following it."""
    headers = web.people.headers("vp.sales")
    with web.client() as client:
        request_id = client.post("/api/requests", json=request_payload(), headers=headers).json()[
            "id"
        ]
        csrf = web.sign_in(client, "vp.care")
        detail = client.get(f"/requests/{request_id}").text
        assert f'hx-get="/settings/notifications/following?request_id={request_id}"' in detail
        button = client.get(f"{PAGE}/following", params={"request_id": request_id})
        assert ">Follow</button>" in button.text
        assert "Following" not in button.text
        fragment = client.post(
            f"{PAGE}/follow",
            data={"csrf_token": csrf, "request_id": request_id},
            headers={"HX-Request": "true"},
        )
        assert fragment.status_code == 200
        assert "Following" in fragment.text
        assert "Stop following" in fragment.text
        assert "<html" not in fragment.text  # the button alone, swapped in place
        again = client.get(f"{PAGE}/following", params={"request_id": request_id})
        assert "Stop following" in again.text
        page = client.get(PAGE).text
        listed = page.split("<h2>Requests and changes you follow</h2>")[1].split("</section>")[0]
        assert f'href="/requests/{request_id}"' in listed
        assert "REQ-1" in listed
        assert "Bill shock alerts by SMS" in listed
        gone = client.post(
            f"{PAGE}/unfollow",
            data={"csrf_token": csrf, "request_id": request_id},
            follow_redirects=True,
        )
        assert "You no longer follow the request." in gone.text
        assert f'href="/requests/{request_id}"' not in gone.text.split("you follow</h2>")[-1]
        plain = client.post(
            f"{PAGE}/follow",
            data={"csrf_token": csrf, "request_id": request_id},
            follow_redirects=True,
        )
        assert "You follow the request now" in plain.text


def test_a_change_is_followed_from_its_page_and_nonsense_is_refused_in_place(web: Web) -> None:
    change_id = raise_change(web)
    with web.client() as client:
        csrf = web.sign_in(client, "vp.care")
        page = client.get(f"/changes/{change_id}").text
        assert f"following?change_id={change_id}" in page
        before = web.events()
        unknown = client.post(
            f"{PAGE}/follow",
            data={"csrf_token": csrf, "change_id": str(uuid.uuid4())},
            headers={"HX-Request": "true"},
        )
        assert unknown.status_code == 404
        assert "No production change with id" in unknown.text
        assert ">Follow</button>" in unknown.text  # the button stays, with the reason
        unreadable = client.get(f"{PAGE}/following", params={"change_id": "CHG-1"})
        assert unreadable.status_code == 422
        assert web.events() == before
        followed = client.post(
            f"{PAGE}/follow",
            data={"csrf_token": csrf, "change_id": change_id},
            headers={"HX-Request": "true"},
        )
        assert "Stop following" in followed.text
    assert web.events() == before + 2  # her subscriptions began, and she follows it
