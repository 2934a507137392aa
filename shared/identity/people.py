"""People in the browser: the admin's list of everyone (add a person), each person's page
(profile and roles, a password, deactivation) and everyone's own API tokens (issued with
a label and an expiry, the secret shown once; revoked with a reason). The same use cases
as the API and the CLI, with the same rules."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from shared.application import IdempotencyRequest
from shared.http.routing import ServiceRouter
from shared.identity.application import Identity
from shared.identity.domain import MIN_PASSWORD, Role, Team, is_email
from shared.identity.views import Directory
from shared.web.access import PageAccess, PageForbidden, Viewer
from shared.web.forms import BadInput, Form, Refusal, attempt, handle_form, read_form, see_other
from shared.web.rendering import NavLink, Templates

ONCE = re.compile(r"[0-9a-f]{32}")

NAV = [
    NavLink("People", "/people", (Role.ADMIN,), "Everyone who signs in: roles, passwords, tokens."),
]
NOTICES = {
    "registered": "The person is added.",
    "profile": "The profile is saved.",
    "password": "The password is set.",
    "deactivated": "The person is deactivated: their sessions and tokens no longer work.",
    "reactivated": (
        "The person is active again and signs in with their password; their old tokens stay"
        " revoked: issue new ones if they need them."
    ),
    "revoked": "The token is revoked.",
    "contact": "Your name and email address are saved.",
}


def _profile(form: Form) -> dict[str, Any]:
    """What the profile form says, checked as the API's schema checks it."""
    email = form.text("email") or None
    if email is not None and not is_email(email):
        raise BadInput(f"“{email[:60]}” is not an email address")
    return {  # roles and team are checked by the domain, as for the API and the CLI
        "roles": form.texts("roles"),
        "department": form.text("department")[:100] or None,
        "team": form.text("team") or None,
        "display_name": form.text("display_name")[:200],
        "email": email,
    }


@dataclass
class PeoplePages:
    identity: Identity
    directory: Directory
    access: PageAccess
    templates: Templates

    def everyone(
        self, request: Request, viewer: Viewer, refusal: Refusal | None = None, kept: Any = None
    ) -> Response:
        return self.templates.render(
            request,
            "people.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            people=self.directory.users(),
            roles=[r.value for r in Role],
            teams=[t.value for t in Team],
            form=kept or {"roles": []},
            notice=NOTICES.get(request.query_params.get("done", "")),
        )

    def person(
        self,
        request: Request,
        viewer: Viewer,
        username: str,
        *,
        refusal: Refusal | None = None,
        failed: str = "",
        kept: dict[str, Any] | None = None,
        issued: Any = None,
    ) -> Response:
        _own_or_admin(viewer, username)
        person = self.directory.user(username)
        if person is None:
            return self.templates.missing(
                request, viewer, "No such person", f"No one is called {username!r}."
            )
        return self.templates.render(
            request,
            "person.html",
            viewer,
            status=refusal.status if refusal else 200,
            error=refusal.detail if refusal else None,
            failed=failed,
            person=person,
            tokens=self.directory.tokens(username),
            issued=issued,
            # The token form's own key: sent again (a reload of the page that shows the
            # secret), it issues no second token (`issue`).
            once=uuid.uuid4().hex,
            roles=[r.value for r in Role],
            teams=[t.value for t in Team],
            form=kept or {},
            manage=viewer.may(Role.ADMIN),
            notice=NOTICES.get(request.query_params.get("done", "")),
        )  # kept by no cache, a token's secret with it: every page is no-store (middleware)

    async def act(
        self,
        request: Request,
        viewer: Viewer,
        username: str,
        name: str,
        run: Callable[[Form], object],
    ) -> Response:
        def refused(refusal: Refusal, form: Form) -> Response:
            return self.person(
                request, viewer, username, refusal=refusal, failed=name, kept=form.kept()
            )

        return await handle_form(
            request, viewer, run, refused, f"{_home(viewer, username)}?done={name}"
        )


def people_router(p: PeoplePages) -> APIRouter:
    router = ServiceRouter(include_in_schema=False)
    router.include_router(_admin_routes(p))
    router.include_router(_token_routes(p))
    return router


def _admin_routes(p: PeoplePages) -> APIRouter:
    router = ServiceRouter()
    admin = p.access.require(Role.ADMIN)
    identity = p.identity

    @router.get("/people")
    def people(request: Request, viewer: Annotated[Viewer, Depends(admin)]) -> Response:
        return p.everyone(request, viewer)

    @router.post("/people")
    async def register(request: Request, viewer: Annotated[Viewer, Depends(admin)]) -> Response:
        form = await read_form(request)
        username = form.text("username").lower()

        def command() -> object:
            profile = _profile(form)
            password = form.text("password")
            if password and len(password) < MIN_PASSWORD:  # checked before anyone is added
                raise BadInput(f"a password has at least {MIN_PASSWORD} characters")
            done = identity.register(username, **profile)
            if password:
                done = identity.set_password(username, password)
            return done

        result = attempt(viewer, command)
        if isinstance(result, Refusal):
            kept = {**form.kept(), "roles": form.texts("roles"), "password": ""}
            return p.everyone(request, viewer, result, kept)
        return see_other(f"/people/{username}?done=registered")

    @router.post("/people/{username}/profile")
    async def profile(
        request: Request, username: str, viewer: Annotated[Viewer, Depends(admin)]
    ) -> Response:
        def run(form: Form) -> object:
            fields = _profile(form)
            # An empty name keeps the one they have (registering, it becomes the username).
            fields["display_name"] = fields["display_name"] or None
            return identity.change_profile(username, **fields)

        return await p.act(request, viewer, username, "profile", run)

    @router.post("/people/{username}/password")
    async def password(
        request: Request, username: str, viewer: Annotated[Viewer, Depends(admin)]
    ) -> Response:
        def run(form: Form) -> object:
            if form.text("password") != form.text("again"):
                raise BadInput("the two passwords differ")
            return identity.set_password(username, form.text("password"))

        return await p.act(request, viewer, username, "password", run)

    @router.post("/people/{username}/deactivate")
    async def deactivate(
        request: Request, username: str, viewer: Annotated[Viewer, Depends(admin)]
    ) -> Response:
        def run(form: Form) -> object:
            if username == viewer.username:
                raise BadInput("you cannot deactivate yourself: ask another admin")
            return identity.deactivate(username, form.text("reason")[:500] or "deactivated")

        return await p.act(request, viewer, username, "deactivated", run)

    @router.post("/people/{username}/reactivate")
    async def reactivate(
        request: Request, username: str, viewer: Annotated[Viewer, Depends(admin)]
    ) -> Response:
        def run(form: Form) -> object:
            return identity.reactivate(username, form.text("reason")[:500] or "reactivated")

        return await p.act(request, viewer, username, "reactivated", run)

    return router


def _token_routes(p: PeoplePages) -> APIRouter:
    """Everyone's own page and tokens (an admin's, anyone's)."""
    router = ServiceRouter()
    anyone = p.access.require()
    identity = p.identity

    @router.get("/account")
    def account(request: Request, viewer: Annotated[Viewer, Depends(anyone)]) -> Response:
        return p.person(request, viewer, viewer.username)

    @router.get("/people/{username}")
    def person(
        request: Request, username: str, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        return p.person(request, viewer, username)

    @router.post("/people/{username}/contact")
    async def contact(
        request: Request, username: str, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        """Their own name and email address, which email notifications go to (a VP was
        told to ask an admin to add one)."""

        def run(form: Form) -> object:
            _own_or_admin(viewer, username)
            fields = _profile(form)
            return identity.change_contact(
                username, fields["display_name"] or None, fields["email"] or ""
            )

        return await p.act(request, viewer, username, "contact", run)

    @router.post("/people/{username}/tokens")
    async def issue(
        request: Request, username: str, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        form = await read_form(request)

        def command() -> Any:
            _own_or_admin(viewer, username)
            label = form.text("label") or "api"
            if len(label) > 100:
                raise BadInput("a token's label is at most 100 characters")
            expires = None  # none given: it never expires
            if form.text("expires_in_days"):
                expires = form.integer("expires_in_days", "Days until it expires", 1, 3650)
            return identity.issue_token(username, label, expires)

        result = attempt(viewer, command, once=_once(form, username))
        if isinstance(result, Refusal) and result.rule == "form_already_sent":
            result = Refusal(
                409,
                result.rule,
                "this form was sent before (the page reloaded?): its token was issued then"
                " and its secret shown once; no second token was issued. If you did not keep"
                " the secret, revoke that token and issue another",
            )
        if isinstance(result, Refusal):
            return p.person(
                request, viewer, username, refusal=result, failed="issue", kept=form.kept()
            )
        # The secret is shown on this answer only: not a redirect, never stored for a page.
        return p.person(request, viewer, username, issued=result)

    @router.post("/people/{username}/tokens/{token_id}/revoke")
    async def revoke(
        request: Request, username: str, token_id: str, viewer: Annotated[Viewer, Depends(anyone)]
    ) -> Response:
        def run(form: Form) -> object:
            _own_or_admin(viewer, username)
            reason = form.text("reason")[:500] or "revoked"
            return identity.revoke_token(username, token_id, reason)

        return await p.act(request, viewer, username, "revoked", run)

    return router


def _once(form: Form, username: str) -> IdempotencyRequest | None:
    """The token form's key as an idempotency key: the same form sent twice issues one
    token (the second answer cannot show its secret again)."""
    key = form.text("once")
    if not ONCE.fullmatch(key):
        return None
    return IdempotencyRequest(f"page:tokens:{username}", key, "issue", 200)


def _own_or_admin(viewer: Viewer, username: str) -> None:
    if username != viewer.username and not viewer.may(Role.ADMIN):
        raise PageForbidden("only an admin may look after another person's account", viewer)


def _home(viewer: Viewer, username: str) -> str:
    """Where a person's page lives for the viewer: their own account, or the admin's."""
    return "/account" if username == viewer.username else f"/people/{username}"
