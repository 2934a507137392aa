"""The pages' forms, posted by hand by someone whose role the form is not for: 403 and
nothing written (README "Using it in the browser")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from shared.identity.domain import Role
from tests.security.conftest import written
from tests.security.design import (
    ADMIN,
    CAB,
    COMMENTERS,
    EVERYONE,
    IT_STAFF,
    IT_TALK,
    KEEPERS,
    RAISERS,
    RELEASE_MANAGER,
    REQUESTER,
    SUBMITTERS,
    WITHDRAWERS,
)
from tests.security.world import OTHER, PASSWORD, ROLE_USERS, SHARED, Served

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# Form -> the roles its page is for, and the kinds of item its path names.
FORMS: dict[str, frozenset[Role]] = {
    "/requests/new": SUBMITTERS,
    "/requests/{request_id}/edit": REQUESTER,
    "/requests/{request_id}/answer": REQUESTER,
    "/requests/{request_id}/withdraw": WITHDRAWERS,
    "/requests/{request_id}/rating": REQUESTER,
    "/requests/{request_id}/comments": COMMENTERS,
    "/triage/{request_id}/{decision}": RELEASE_MANAGER,
    "/department/ranking": REQUESTER,
    "/department/ranking/move": REQUESTER,
    "/release/plan/apply": RELEASE_MANAGER,
    "/release/calendar/subscribe": EVERYONE,
    "/release/calendar/feeds/{feed_id}/revoke": EVERYONE,
    "/release/trains": RELEASE_MANAGER,
    "/release/trains/{train_id}/generate": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/move": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/capacity": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/cancel": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/freeze": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/schedule": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/items/{request_id}/unschedule": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/items/{request_id}/pull": RELEASE_MANAGER,
    "/release/bundles/{bundle_id}/items/{request_id}/progress": IT_STAFF,
    "/release/bundles/{bundle_id}/sign-off": IT_STAFF,
    "/changes/new": RAISERS,
    "/changes/{change_id}/revise": RAISERS,
    "/changes/{change_id}/approve": CAB,
    "/changes/{change_id}/reject": CAB,
    "/changes/{change_id}/review": CAB,
    "/changes/{change_id}/comments": IT_TALK,
    "/changes/{change_id}/withdraw": IT_TALK,
    "/changes/{change_id}/start": IT_STAFF,
    "/changes/{change_id}/complete": IT_STAFF,
    "/blackouts": RELEASE_MANAGER,
    "/blackouts/{blackout_id}": RELEASE_MANAGER,
    "/blackouts/{blackout_id}/lift": RELEASE_MANAGER,
    "/standard-changes": KEEPERS,
    "/standard-changes/{template_id}": KEEPERS,
    "/standard-changes/{template_id}/retire": KEEPERS,
    # An admin looks after people; everyone after their own tokens (another's: 403, as
    # tests/web/test_people_pages.py shows).
    "/people": ADMIN,
    "/people/{username}/profile": ADMIN,
    "/people/{username}/password": ADMIN,
    "/people/{username}/deactivate": ADMIN,
    "/people/{username}/reactivate": ADMIN,
    "/people/{username}/contact": EVERYONE,
    "/people/{username}/tokens": EVERYONE,
    "/people/{username}/tokens/{token_id}/revoke": EVERYONE,
    # Everyone chooses what they hear about (README "Keeping people informed").
    "/settings/notifications": EVERYONE,
    "/settings/notifications/webhook": EVERYONE,
    "/settings/notifications/webhook/replace-secret": EVERYONE,
    "/settings/notifications/follow": EVERYONE,
    "/settings/notifications/unfollow": EVERYONE,
}
# Forms of the sign-in itself, open before anyone is signed in (tested in tests/web).
SIGN_IN_FORMS = {"/signin", "/signout"}
PARAMS = {
    "request_id": "submitted",
    "bundle_id": "bundle",
    "train_id": "train",
    "change_id": "in_review",
    "blackout_id": "blackout",
    "template_id": "template",
}


def routes(container: Any) -> Iterator[BaseRoute]:
    for route in container.routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            yield from routes(included)
        else:
            yield route


def page_forms(served: Served) -> set[str]:
    return {
        route.path
        for route in routes(served.app)
        if isinstance(route, APIRoute)
        and "POST" in (route.methods or ())
        and not route.path.startswith("/api/")
    }


def form_path(template: str, served: Served) -> str:
    items = served.world.ids(SHARED)
    values = {name: items[kind] for name, kind in PARAMS.items() if f"{{{name}}}" in template}
    # Another person's account, and one of their tokens.
    person = {
        "username": OTHER,
        "token_id": served.world.spare_tokens[OTHER],
        "feed_id": served.world.feeds[OTHER],
    }
    return template.format(decision="accept", **values, **person)


@pytest.fixture(scope="module")
def signed_in(shared: Served) -> Iterator[dict[str, tuple[TestClient, str]]]:
    """A browser (client and CSRF token) signed in as each role's person."""
    clients: dict[str, tuple[TestClient, str]] = {}
    for username in ROLE_USERS.values():
        client = TestClient(shared.app, raise_server_exceptions=False)
        csrf = CSRF.search(client.get("/signin").text)
        assert csrf
        answer = client.post(
            "/signin",
            data={"csrf_token": csrf.group(1), "username": username, "password": PASSWORD},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        page_csrf = CSRF.search(client.get("/").text)
        assert page_csrf
        clients[username] = (client, page_csrf.group(1))
    yield clients
    for client, _ in clients.values():
        client.close()


def test_every_page_form_says_whose_it_is(shared: Served) -> None:
    """A new form cannot ship without saying which roles may post it."""
    assert page_forms(shared) - SIGN_IN_FORMS == set(FORMS)


@pytest.mark.parametrize("template", sorted(t for t, roles in FORMS.items() if roles != EVERYONE))
def test_a_form_posted_by_another_role_is_refused_and_writes_nothing(
    template: str, shared: Served, signed_in: dict[str, tuple[TestClient, str]]
) -> None:
    """However it is posted, the form of another role's page is a 403 page."""
    allowed = FORMS[template]
    path = form_path(template, shared)
    for role, username in ROLE_USERS.items():
        if role in allowed:
            continue
        client, csrf = signed_in[username]
        before = written(shared.platform)
        answer = client.post(path, data={"csrf_token": csrf, "reason": "x", "status": "approved"})
        assert answer.status_code == 403, f"{template} as {username}: {answer.text[:300]}"
        assert "Not for your role" in answer.text
        assert written(shared.platform) == before, f"{template} as {username} wrote something"


@pytest.mark.parametrize("template", sorted(FORMS))
def test_a_form_posted_without_signing_in_goes_to_sign_in_and_writes_nothing(
    template: str, shared: Served
) -> None:
    path = form_path(template, shared)
    before = written(shared.platform)
    with TestClient(shared.app, raise_server_exceptions=False) as client:
        answer = client.post(path, data={"reason": "x"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin?next=")
    assert written(shared.platform) == before
