"""Browser sessions: a signed, HttpOnly, SameSite=Lax cookie that names the user and
carries the session's CSRF token.

The cookie is stateless (HMAC-SHA256 over its JSON); it expires after
`RAILYARD_SESSION_MAX_AGE_S`, and a deactivated user's session stops working at once
because every request looks the user up again. The API honours the session for safe
methods, and for writes only when the `X-CSRF-Token` header carries the session's token,
so a session cookie alone never authorises a cross-site write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.settings import Settings

log = structlog.get_logger(__name__)

COOKIE = "railyard_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_FILE = "session-secret"  # noqa: S105  # a file name, not a secret


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


def session_secret(settings: Settings) -> bytes:
    """RAILYARD_SESSION_SECRET, else a secret generated once and kept under the data
    directory so sessions survive a restart."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    path = Path(settings.data_dir) / SECRET_FILE
    secret = secrets.token_urlsafe(48).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    except OSError as exc:
        # A read-only data dir (a container): sessions then last as long as the process.
        log.warning("session_secret_not_kept", path=str(path), error=str(exc))
        return secret
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret


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
                morsel = SimpleCookie(value.decode("latin-1")).get(COOKIE)
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
    public = settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


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
