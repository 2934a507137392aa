"""People in the browser: an admin adds people, changes their roles, sets passwords and
deactivates them; everyone issues and revokes their own API tokens, the secret shown
once; nobody else looks after another person's account."""

from __future__ import annotations

import re
import time

import pytest

from tests.web.conftest import PASSWORD, Web

TOKEN = re.compile(r'<code class="secret">(ry_[0-9a-f]{16}_[A-Za-z0-9_-]+)</code>')
NEW_PERSON = {
    "username": "vp.legal",
    "display_name": "Lee Legal",
    "roles": ["requester"],
    "department": "Legal",
    "team": "",
    "email": "lee@example.com",
    "password": "a long enough secret",
}


def test_an_admin_adds_a_person_who_can_then_sign_in(web: Web) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "admin")
        added = client.post(
            "/people", data={"csrf_token": csrf, **NEW_PERSON}, follow_redirects=False
        )
        assert added.headers["location"] == "/people/vp.legal?done=registered"
        everyone = client.get("/people").text
    assert '<a href="/people/vp.legal">Lee Legal</a>' in everyone
    with web.client() as client:
        web.sign_in(client, "vp.legal", "a long enough secret")
        assert "Lee Legal" in client.get("/department").text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"department": ""}, "A requester belongs to a department"),
        ({"username": "Not A Name!"}, "A username is 2-64 characters"),
        ({"roles": []}, "A user needs at least one role"),
        ({"email": "not-an-address"}, "is not an email address"),
        ({"password": "short"}, "A password has at least 10 characters"),
        ({"username": "rm"}, "already exists"),
    ],
)
def test_a_refused_person_says_why_and_keeps_what_was_typed_but_the_password(
    web: Web, overrides: dict[str, object], message: str
) -> None:
    before = web.events()
    with web.client() as client:
        csrf = web.sign_in(client, "admin")
        answer = client.post("/people", data={"csrf_token": csrf, **NEW_PERSON, **overrides})
    assert answer.status_code in (400, 409, 422)
    assert "Not saved." in answer.text
    assert message in answer.text
    assert 'value="Lee Legal"' in answer.text
    assert "a long enough secret" not in answer.text
    assert web.events() == before  # nobody added half-way (a short password is checked first)


def test_roles_an_admin_gives_take_effect_on_the_next_page(web: Web) -> None:
    with web.client() as alice:
        web.sign_in(alice, "dev.alice")
        assert alice.get("/triage").status_code == 403
        with web.client() as client:
            csrf = web.sign_in(client, "admin")
            saved = client.post(
                "/people/dev.alice/profile",
                data={
                    "csrf_token": csrf,
                    "display_name": "Alice Dev",
                    "roles": ["it_staff", "release_manager"],
                    "team": "development",
                },
                follow_redirects=False,
            )
        assert saved.headers["location"] == "/people/dev.alice?done=profile"
        assert alice.get("/triage").status_code == 200


def test_a_token_is_shown_once_and_works_until_it_is_revoked(web: Web) -> None:
    """Issued from one's own account page: the secret is on that answer only; it calls
    the API as its owner; revoked, it is refused."""
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        issued = client.post(
            "/people/dev.alice/tokens",
            data={"csrf_token": csrf, "label": "my script", "expires_in_days": "30"},
        )
        assert issued.headers["cache-control"] == "no-store"
        found = TOKEN.search(issued.text)
        assert found is not None
        token = found.group(1)
        account = client.get("/account").text
        assert token not in account
        assert "my script" in account
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "dev.alice"
        token_id = token.split("_")[1]
        revoked = client.post(
            f"/people/dev.alice/tokens/{token_id}/revoke",
            data={"csrf_token": csrf, "reason": "script retired"},
            follow_redirects=False,
        )
        assert revoked.headers["location"] == "/account?done=revoked"
    with web.client() as anonymous:
        refused = anonymous.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_the_token_form_sent_twice_issues_one_token(web: Web) -> None:
    """Reloading the page that shows a new token's secret sent the form again: a second
    token, with the same label. The form carries its own key, and a second sending is
    refused saying why, the first token kept."""
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        page = client.get("/account").text
        once = re.search(r'name="once" value="([0-9a-f]{32})"', page)
        assert once is not None
        form = {"csrf_token": csrf, "label": "laptop", "expires_in_days": "30",
                "once": once.group(1)}  # fmt: skip
        first = client.post("/people/dev.alice/tokens", data=form)
        assert TOKEN.search(first.text) is not None
        again = client.post("/people/dev.alice/tokens", data=form)
        assert again.status_code == 409
        assert TOKEN.search(again.text) is None
        assert "no second token was issued" in again.text
        assert 'name="once" value="' + once.group(1) not in again.text  # a fresh form
    tokens = web.platform.directory.tokens("dev.alice")
    assert [t.label for t in tokens].count("laptop") == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/people"),
        ("get", "/people/vp.sales"),
        ("post", "/people"),
        ("post", "/people/vp.sales/profile"),
        ("post", "/people/vp.sales/password"),
        ("post", "/people/vp.sales/deactivate"),
        ("post", "/people/vp.sales/tokens"),
    ],
)
def test_nobody_but_an_admin_looks_after_another_persons_account(
    web: Web, method: str, path: str
) -> None:
    before = web.events()
    with web.client() as client:
        csrf = web.sign_in(client, "dev.alice")
        data = {"csrf_token": csrf, **NEW_PERSON, "reason": "x", "again": "a long enough secret"}
        answer = client.get(path) if method == "get" else client.post(path, data=data)
    assert answer.status_code == 403
    assert web.events() == before


def test_a_deactivated_person_is_signed_out_and_an_admin_cannot_deactivate_themselves(
    web: Web,
) -> None:
    with web.client() as sales:
        web.sign_in(sales, "vp.sales")
        with web.client() as client:
            csrf = web.sign_in(client, "admin")
            client.post("/people/vp.sales/deactivate", data={"csrf_token": csrf, "reason": "left"})
            page = client.get("/people/vp.sales").text
            own = client.post("/people/admin/deactivate", data={"csrf_token": csrf, "reason": "x"})
        gone = sales.get("/department", follow_redirects=False)
        landed = sales.get("/department")  # followed: to the form, not back and forth
    assert "deactivated" in page
    assert landed.status_code == 200
    assert 'name="password"' in landed.text
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/signin")
    assert own.status_code == 422
    assert "You cannot deactivate yourself" in own.text


def test_a_password_is_typed_twice_alike(web: Web) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "admin")
        differ = client.post(
            "/people/qa.quinn/password",
            data={"csrf_token": csrf, "password": "first long one", "again": "second long one"},
        )
        same = client.post(
            "/people/qa.quinn/password",
            data={"csrf_token": csrf, "password": "a new long one", "again": "a new long one"},
            follow_redirects=False,
        )
    assert differ.status_code == 422
    assert "The two passwords differ" in differ.text
    assert same.headers["location"] == "/people/qa.quinn?done=password"
    with web.client() as quinn:
        web.sign_in(quinn, "qa.quinn", "a new long one")
    with web.client() as quinn, pytest.raises(AssertionError):
        web.sign_in(quinn, "qa.quinn", PASSWORD)


@pytest.mark.parametrize(
    ("days", "expires"), [("", "never"), ("0", "Days until it expires"), ("x", "Days until")]
)
def test_a_token_never_expires_unless_given_days_and_bad_days_are_named(
    web: Web, days: str, expires: str
) -> None:
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        answer = client.post(
            "/people/vp.sales/tokens",
            data={"csrf_token": csrf, "label": "calendar", "expires_in_days": days},
        )
    assert expires in answer.text
    assert (TOKEN.search(answer.text) is not None) == (days == "")


def test_a_reactivated_person_signs_in_again_but_old_sessions_and_tokens_stay_ended(
    web: Web,
) -> None:
    old_token = web.people.headers("vp.sales")
    with web.client() as before:
        web.sign_in(before, "vp.sales")
        with web.client() as client:
            csrf = web.sign_in(client, "admin")
            client.post("/people/vp.sales/deactivate", data={"csrf_token": csrf, "reason": "left"})
            offered = client.get("/people/vp.sales").text
            back = client.post(
                "/people/vp.sales/reactivate",
                data={"csrf_token": csrf, "reason": "back from leave"},
                follow_redirects=False,
            )
            page = client.get(back.headers["location"]).text
            again = client.post(
                "/people/vp.sales/reactivate", data={"csrf_token": csrf, "reason": "twice"}
            )
        stale = before.get("/department", follow_redirects=False)
        assert 'name="password"' in before.get("/department").text  # the sign-in form
        token = before.get("/api/requests", headers=old_token)
    assert 'action="/people/vp.sales/reactivate"' in offered
    assert back.status_code == 303
    assert "The person is active again" in page
    assert 'action="/people/vp.sales/deactivate"' in page
    assert again.status_code == 409
    assert "is already active" in again.text
    assert stale.status_code == 303  # the session from before the deactivation stays ended
    assert token.status_code == 401  # and so do the tokens it revoked
    time.sleep(1.05)  # sessions count in whole seconds: one begun in the reactivation's ends
    with web.client() as after:
        web.sign_in(after, "vp.sales")  # with the password they had
        assert after.get("/department").status_code == 200


def test_a_person_sets_their_own_name_and_email_for_notifications(web: Web) -> None:
    """A VP without an email address was told to ask an admin to add one: their account
    page takes it, as it does their name; another person's is not theirs to change."""
    before = web.submit("vp.sales", "/people/vp.care/contact", {"email": "x@example.com"})
    assert before.status_code == 403
    refused = web.submit("vp.sales", "/people/vp.sales/contact", {"email": "not an address"})
    assert refused.status_code == 422
    assert "is not an email address" in refused.text
    assert 'value="not an address"' in refused.text
    saved = web.submit(
        "vp.sales", "/people/vp.sales/contact", {"display_name": "Val", "email": "val@corp.example"}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/account?done=contact"
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        assert (
            "Your name and email address are saved." in client.get(saved.headers["location"]).text
        )
        assert "Emails go to val@corp.example." in client.get("/settings/notifications").text
    me = web.platform.directory.user("vp.sales")
    assert me is not None
    assert (me.display_name, me.email, me.department) == ("Val", "val@corp.example", "Sales")
