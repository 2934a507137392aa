"""Who is looking at a page, and whether their role lets them see it or post its forms.

Every page route depends on `PageAccess.require(...)`: no session sends the browser to
sign in; a role that does not allow the page is a 403 page and its handler never runs;
a POST without the session's CSRF token (form field or `X-CSRF-Token` header) is a 403
and writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from shared.application import CommandContext
from shared.http.auth import Caller
from shared.http.session import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, current_session
from shared.http.threads import in_thread
from shared.identity.domain import Principal, Role
from shared.identity.views import Directory


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page, then back."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in required")
        self.next_path = next_path


class PageForbidden(Exception):
    """The viewer's role does not allow this page or form (403, nothing written)."""

    def __init__(self, detail: str, viewer: Viewer | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.viewer = viewer


@dataclass(frozen=True)
class Viewer:
    """The signed-in person looking at a page."""

    caller: Caller
    csrf: str

    @property
    def principal(self) -> Principal:
        return self.caller.principal

    @property
    def username(self) -> str:
        return self.caller.username

    def may(self, *roles: Role | str) -> bool:
        return self.principal.has(*(Role(r) for r in roles))

    @contextmanager
    def acting(self) -> Iterator[CommandContext]:
        with self.caller.acting() as context:
            yield context


def signin_url(request: Request) -> str:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/signin?next=" + quote(path, safe="/")


class PageAccess:
    """Session-based access to pages, by role."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def signed_in(self, request: Request) -> Viewer | None:
        """Who is signed in, if anyone: for a page any visitor may see (no CSRF check,
        no role), such as one that says an address names nothing."""
        session = current_session(request)
        if session is None or not session.username:
            return None
        principal = await in_thread(self.directory.principal, session.username, session.issued_at)
        if principal is None:
            return None
        request_id = str(getattr(request.state, "request_id", "") or "")
        return Viewer(Caller(principal, request_id), session.csrf)

    def require(self, *roles: Role) -> Callable[[Request], Awaitable[Viewer]]:
        allowed = frozenset(roles)

        async def dependency(request: Request) -> Viewer:
            viewer = await self.signed_in(request)
            if viewer is None:  # never signed in, or deactivated since
                raise SignInRequired(signin_url(request))
            principal = viewer.principal
            if request.method not in SAFE_METHODS:
                supplied = request.headers.get(CSRF_HEADER)
                if supplied is None:
                    supplied = str((await request.form()).get(CSRF_FIELD) or "")
                session = current_session(request)  # there: it named the viewer
                if session is None or not session.csrf_matches(supplied):
                    raise PageForbidden(
                        "this form has expired or did not come from Railyard; reload the page"
                        " and try again",
                        viewer,
                    )
            if allowed and not principal.has(*allowed):
                names = ", ".join(sorted(r.value.replace("_", " ") for r in allowed))
                raise PageForbidden(f"this page is for the roles: {names}", viewer)
            return viewer

        return dependency
