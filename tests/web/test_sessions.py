"""Sessions, CSRF and the sign-in limits, without a browser."""

from __future__ import annotations

import time
from pathlib import Path

from shared.http.ratelimit import RateLimiter
from shared.http.session import COOKIE, Session, SessionCodec, session_secret
from shared.settings import load_settings
from shared.store.log import EventLog
from tests.builders import request_payload
from tests.web.conftest import PASSWORD, Web, csrf_of


def test_rate_limiter_refuses_past_the_limit_and_refills_with_time() -> None:
    """A key gets `limit` hits per window; the refusal says how long to wait."""
    now = [1000.0]
    limiter = RateLimiter(3, 60, clock=lambda: now[0])
    assert all(limiter.hit("a").allowed for _ in range(3))
    refused = limiter.hit("a")
    assert not refused.allowed
    assert refused.retry_after_s == 20
    assert limiter.hit("b").allowed  # other keys are unaffected
    now[0] += 20
    assert limiter.hit("a").allowed


def test_session_secret_is_kept_so_sessions_survive_a_restart(tmp_path: Path) -> None:
    """Without RAILYARD_SESSION_SECRET the secret is made once and found again by every
    process (it lives with the store), so a restart signs nobody out."""
    settings = load_settings(database_url=None, data_dir=tmp_path / "var")
    first, second = EventLog(settings), EventLog(settings)
    try:
        secret = session_secret(first)
        assert len(secret) >= 32
        assert session_secret(second) == secret
    finally:
        first.close()
        second.close()
    given = load_settings(database_url=None, data_dir=tmp_path, session_secret="s" * 40)
    log = EventLog(given)
    try:
        assert session_secret(log) == b"s" * 40
    finally:
        log.close()


def test_a_tampered_or_expired_session_cookie_is_no_session() -> None:
    """Changing one character of the cookie, or outliving its age, signs the user out."""
    codec = SessionCodec(b"k" * 32, max_age_s=600)
    value = codec.encode(Session("rm", "csrf", int(time.time())))
    assert codec.decode(value) is not None
    payload, signature = value.split(".")
    assert (
        codec.decode(payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + signature) is None
    )
    assert codec.decode(value, now=time.time() + 601) is None
    assert SessionCodec(b"x" * 32, 600).decode(value) is None


def test_session_cookie_is_httponly_lax_and_secure_over_https(web: Web) -> None:
    """The cookie cannot be read by scripts, is not sent on cross-site posts, and is
    Secure when the site is served over https."""
    with web.client() as client:
        web.sign_in(client, "rm")
    with web.client("https://testserver") as client:
        csrf = csrf_of(client.get("/signin").text)
        answer = client.post(
            "/signin",
            data={"csrf_token": csrf, "username": "rm", "password": PASSWORD},
            follow_redirects=False,
        )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_api_honours_a_session_cookie_for_writes_only_with_the_csrf_header(web: Web) -> None:
    """A cross-site POST to the API riding on the cookie is 401 and writes nothing."""
    with web.client() as client:
        csrf = web.sign_in(client, "vp.sales")
        before = web.events()
        assert client.post("/api/requests", json=request_payload()).status_code == 401
        assert web.events() == before
        assert client.get("/api/me").json()["username"] == "vp.sales"
        answer = client.post(
            "/api/requests", json=request_payload(), headers={"X-CSRF-Token": csrf}
        )
        assert answer.status_code == 201


def test_signing_in_never_redirects_off_site(web: Web) -> None:
    """`next` must be a path here: `//elsewhere` and full URLs lead to the start page."""
    with web.client() as client:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil"):
            csrf = csrf_of(client.get("/signin").text)
            answer = client.post(
                "/signin",
                data={"csrf_token": csrf, "username": "rm", "password": PASSWORD, "next": target},
                follow_redirects=False,
            )
            assert answer.headers["location"] == "/"
            client.cookies.clear()


def test_a_refused_sign_in_says_not_signed_in_and_how_to_get_a_password(web: Web) -> None:
    """It began "Not saved.", as a refused form does, and told a business user to run a
    command only an administrator can."""
    with web.client() as client:
        csrf = csrf_of(client.get("/signin").text)
        answer = client.post(
            "/signin", data={"csrf_token": csrf, "username": "rm", "password": "wrong"}
        )
    assert answer.status_code == 401
    assert "<strong>Not signed in.</strong>" in answer.text
    assert "Not saved." not in answer.text
    assert "Ask an administrator to set one" in answer.text


def test_a_deactivated_users_session_stops_working(web: Web) -> None:
    """Deactivation ends every session at once: the next page asks to sign in."""
    from shared.application import acting_as

    with web.client() as client:
        web.sign_in(client, "dev.alice")
        assert client.get("/my-work").status_code == 200
        with acting_as("admin"):
            web.platform.identity.deactivate("dev.alice", "left the company")
        answer = client.get("/my-work", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin?next=/my-work"


def test_sign_in_is_limited_per_client_address(strict_web: Web) -> None:
    """Past the per-address limit every sign-in is 429 with Retry-After, whoever it names."""
    with strict_web.client() as client:
        for username in ("rm", "qa.quinn", "cab.carl", "cab.dora"):
            csrf = csrf_of(client.get("/signin").text)
            client.post("/signin", data={"csrf_token": csrf, "username": username,
                                         "password": "not the password"})  # fmt: skip
        csrf = csrf_of(client.get("/signin").text)
        answer = client.post(
            "/signin", data={"csrf_token": csrf, "username": "vp.care", "password": PASSWORD}
        )
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in answer.text


def test_sign_in_form_without_its_csrf_token_is_refused(web: Web) -> None:
    """Login CSRF: a sign-in posted from elsewhere (no token) does not sign anyone in."""
    with web.client() as client:
        answer = client.post(
            "/signin", data={"username": "rm", "password": PASSWORD}, follow_redirects=False
        )
        assert answer.status_code == 403
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_malformed_cookie_from_elsewhere_is_ignored(web: Web) -> None:
    """Another cookie on the same host that the parser refuses costs no session and no 500."""
    with web.client() as client:
        web.sign_in(client, "rm")
        session = client.cookies.get(COOKIE)
        answer = client.get(
            "/triage",
            headers={"Cookie": f'bad"name=1; {COOKIE}={session}'},
            follow_redirects=False,
        )
    assert answer.status_code in (200, 303)


def test_a_mistyped_address_is_a_page_for_people_and_problem_json_for_the_api(web: Web) -> None:
    """A browser asking for /requests/not-an-id gets a readable 404 page; the API keeps
    its problem+json."""
    with web.client() as client:
        web.sign_in(client, "rm")
        page = client.get("/requests/not-an-id", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert "Not found" in page.text
        api = client.get("/api/requests/not-an-id")
    assert api.status_code == 404  # names no request (decision 0079)
    assert api.headers["content-type"] == "application/problem+json"


def test_a_page_that_is_not_there_keeps_the_navigation_for_whoever_is_signed_in(
    web: Web,
) -> None:
    """Someone who follows a dead link keeps their pages to go on from; a visitor who is
    not signed in sees the same message without them."""
    with web.client() as client:
        web.sign_in(client, "rm")
        for address in ("/no-such-page", "/requests/not-an-id"):
            page = client.get(address, headers={"Accept": "text/html"})
            assert page.status_code == 404
            assert '<nav class="mainnav"' in page.text
            assert 'href="/triage"' in page.text
    with web.client() as stranger:
        page = stranger.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "There is no page at this address." in page.text
    assert '<nav class="mainnav"' not in page.text


def test_pages_are_never_framed_by_another_site_nor_kept_in_a_cache(web: Web) -> None:
    with web.client() as client:
        web.sign_in(client, "vp.sales")
        page = client.get("/requests")
        api = client.get("/api/requests/counts")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    for answer in (page, api):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
