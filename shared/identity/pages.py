"""Signing in and out of the web pages, with a password or an API token.

Sign-in is rate limited twice: every attempt counts against the client address, and
every failed attempt against the username (or token id) tried, so neither guessing one
user's password from many addresses nor many users' from one address goes far.
"""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
import functools
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from shared.application import acting_as
from shared.http.auth import client_address
from shared.http.ratelimit import Limits
from shared.http.routing import ServiceRouter
from shared.http.session import (
    CSRF_FIELD,
    Session,
    SessionCodec,
    clear_session,
    current_session,
    set_session,
)
from shared.http.threads import in_thread
from shared.identity.application import Identity
from shared.identity.domain import (
    TOKEN,
    Principal,
    ScryptCost,
    cost_of,
    hash_password,
    password_matches,
)
from shared.identity.views import Directory
from shared.settings import Settings
from shared.web.access import PageAccess, Viewer
from shared.web.rendering import Templates
from shared.words import count

TEMPLATES = Path(__file__).parent / "templates"
log = structlog.get_logger(__name__)


@functools.cache
def _dummy_hash(cost: ScryptCost) -> str:
    """Compared against when the user does not exist, so a miss costs as long as a hit."""
    return hash_password("railyard-no-such-user", cost)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//elsewhere` or a full URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def signin_router(
    identity: Identity,
    directory: Directory,
    access: PageAccess,
    codec: SessionCodec,
    settings: Settings,
    limits: Limits,
) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    _dummy_hash(identity.password_cost)  # made now: the first unknown name costs one hash too
    anyone = access.require()
    templates = Templates(TEMPLATES, settings.zone)

    def form_page(
        request: Request,
        session: Session,
        *,
        next_path: str,
        username: str = "",
        error: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        response = templates.render(
            request,
            "signin.html",
            csrf=session.csrf,
            next=next_path,
            username=username,
            error=error,
            status=status,
            headers=headers,
        )
        set_session(response, request, codec, session, settings)
        return response

    @router.get("/signin")
    async def signin_form(request: Request, next: str = "/") -> Response:
        # Only a session that still signs someone in skips the form: one whose person was
        # deactivated (or reactivated since it began) would be sent back and forth.
        if await access.signed_in(request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        session = current_session(request)
        if session is None or session.username:
            session = Session.fresh(None)
        return form_page(request, session, next_path=safe_next(next))

    @router.post("/signin")
    async def signin(request: Request) -> Response:
        form = await request.form()
        next_path = safe_next(str(form.get("next") or "/"))
        username = str(form.get("username") or "").strip().lower()
        password = str(form.get("password") or "")
        token = str(form.get("token") or "").strip()
        session = current_session(request)
        if session is None or not session.csrf_matches(str(form.get(CSRF_FIELD) or "")):
            return form_page(
                request,
                Session.fresh(None),
                next_path=next_path,
                username=username,
                error="The sign-in form had expired. Please sign in again.",
                status=403,
            )
        address = client_address(request)
        match = TOKEN.match(token)
        user_key = f"token:{match.group(1)}" if token and match else f"user:{username}"
        by_address = limits.signin_per_address.hit(address)
        by_user = limits.signin_per_user.check(user_key)
        refused = next((v for v in (by_address, by_user) if not v.allowed), None)
        if refused is not None:
            log.warning("sign_in_rate_limited", username=username, address=address)
            return form_page(
                request,
                session,
                next_path=next_path,
                username=username,
                error="Too many sign-in attempts. Try again in"
                f" {count(refused.retry_after_s, 'second')}.",
                status=429,
                headers={"Retry-After": str(refused.retry_after_s)},
            )
        if not token and not (username and password):
            return form_page(
                request,
                session,
                next_path=next_path,
                username=username,
                error="Enter your username and password, or an API token.",
                status=422,
            )
        principal = await in_thread(_authenticate, identity, directory, username, password, token)
        if principal is None:
            limits.signin_per_user.hit(user_key)
            log.warning("sign_in_failed", username=username, address=address, token=bool(token))
            what = (
                "That token is unknown, revoked or expired."
                if token
                else ("That username and password do not match an active user.")
            )
            return form_page(
                request, session, next_path=next_path, username=username, error=what, status=401
            )
        limits.signin_per_user.reset(user_key)
        log.info("signed_in", username=principal.username, address=address, token=bool(token))
        response = RedirectResponse(next_path, status_code=303)
        # A new session (and CSRF token) at every sign-in: no session fixation.
        set_session(response, request, codec, Session.fresh(principal.username), settings)
        return response

    @router.post("/signout")
    def signout(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        response = RedirectResponse("/signin", status_code=303)
        clear_session(response, request, settings)
        return response

    return router


def _authenticate(
    identity: Identity, directory: Directory, username: str, password: str, token: str
) -> Principal | None:
    if token:
        return directory.authenticate(token)
    stored = directory.password_hash(username)
    cost = identity.password_cost
    if not password_matches(password, stored or _dummy_hash(cost)) or stored is None:
        return None
    if cost_of(stored) != cost:
        _rehash(identity, username, password)
    return directory.principal(username)


def _rehash(identity: Identity, username: str, password: str) -> None:
    """A password hashed with other work factors than configured now (an older default,
    or changed settings) is hashed again while its owner signs in, the only time it is
    known. A failure here only leaves the old hash, which still verifies."""
    try:
        with acting_as(username):
            if identity.rehash_password(username, password):
                log.info("password_rehashed", username=username)
    except Exception as exc:  # the sign-in stands: the next one tries again
        log.warning("password_rehash_failed", username=username, error=str(exc))
