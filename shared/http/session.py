"""Browser sessions: a signed, HttpOnly, SameSite=Lax cookie that names the user and
carries the session's CSRF token.

The cookie is stateless (HMAC-SHA256 over its JSON); it expires after
`RAILYARD_SESSION_MAX_AGE_S`, and a deactivated user's session stops working at once
because every request looks the user up again (and, should they be reactivated, with
the time the session began: one from before stays ended). The API honours the session for safe
methods, and for writes only when the `X-CSRF-Token` header carries the session's token,
so a session cookie alone never authorises a cross-site write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.settings import Settings
from shared.store.log import EventLog
from shared.store.secrets import server_secret

COOKIE = "railyard_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    """Who signed in (None before sign-in), the CSRF token, and when it was issued."""

    username: str | None
    csrf: str
    issued_at: int

    @classmethod
    def fresh(cls, username: str | None) -> Session:
        return cls(username, secrets.token_urlsafe(24), int(time.time()))

    def csrf_matches(self, supplied: str | None) -> bool:
        return bool(supplied) and hmac.compare_digest(self.csrf, str(supplied))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs and verifies session cookies."""

    def __init__(self, secret: bytes, max_age_s: int) -> None:
        self.key = hashlib.sha256(b"railyard-session\0" + secret).digest()
        self.max_age_s = max_age_s

    def encode(self, session: Session) -> str:
        payload = _b64(
            orjson.dumps({"u": session.username, "c": session.csrf, "i": session.issued_at})
        )
        return f"{payload}.{self._sign(payload)}"

    def decode(self, value: str, now: float | None = None) -> Session | None:
        payload, _, signature = value.partition(".")
        if not payload or not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = orjson.loads(_unb64(payload))
            session = Session(data["u"], str(data["c"]), int(data["i"]))
        except (ValueError, KeyError, TypeError):
            return None
        age = (time.time() if now is None else now) - session.issued_at
        if age < -60 or age > self.max_age_s:
            return None
        return session

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())


def session_secret(log: EventLog) -> bytes:
    """RAILYARD_SESSION_SECRET, else one derived from the deployment's shared secret
    (kept in the database), so every process accepts a session and restarts keep it."""
    configured = log.settings.session_secret
    if configured is not None:
        return configured.get_secret_value().encode()
    return server_secret(log, "browser-session")


class SessionMiddleware:
    """Puts the verified session on `request.state.session`, and the signed-in user on
    `request.state.session_user` where the API may honour it (see the module doc)."""

    def __init__(self, app: ASGIApp, codec: SessionCodec) -> None:
        self.app = app
        self.codec = codec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = None
        csrf_header = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                try:
                    morsel = SimpleCookie(value.decode("latin-1")).get(COOKIE)
                except CookieError:  # another site's malformed cookie: no session from it
                    morsel = None
                if morsel is not None:
                    session = self.codec.decode(morsel.value)
            elif name == CSRF_HEADER.encode():
                csrf_header = value.decode("latin-1")
        state = scope.setdefault("state", {})
        state["session"] = session
        if (
            session is not None
            and session.username
            and (scope["method"] in SAFE_METHODS or session.csrf_matches(csrf_header))
        ):
            state["session_user"] = session.username
        await self.app(scope, receive, send)


def is_https(request: Request, settings: Settings) -> bool:
    """Secure cookies when served over https, or when production mode says so."""
    public = settings.public_url or ""
    return settings.production or request.url.scheme == "https" or public.startswith("https://")


def set_session(
    response: Response, request: Request, codec: SessionCodec, session: Session, settings: Settings
) -> None:
    response.set_cookie(
        COOKIE,
        codec.encode(session),
        max_age=codec.max_age_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
    )


def clear_session(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request, settings)
    )


def current_session(request: Request) -> Session | None:
    session = getattr(request.state, "session", None)
    return session if isinstance(session, Session) else None
