"""Who is calling, whether their role allows the route, and whether the request repeats an
earlier one (Idempotency-Key). Every route depends on `Auth.require(...)`.

A bearer token (or a calendar feed secret) is a sign-in: an address that keeps presenting
unknown, revoked or expired ones is refused with 429 for a while (`Limits`)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import orjson
import structlog
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.application import CommandContext, IdempotencyRequest, acting_as
from shared.domain import InvalidCommand, NotPermitted
from shared.http.problems import IdempotentReplay, NotAuthenticated, TooManyRequests
from shared.http.ratelimit import Limits, RateLimiter
from shared.http.routing import IDEMPOTENCY_KEY_PATTERN, WRITE_METHODS
from shared.http.threads import in_thread
from shared.identity.domain import Principal, Role
from shared.identity.views import Directory
from shared.store.log import EventLog
from shared.store.recorders import Claim
from shared.words import count

log = structlog.get_logger(__name__)

bearer = HTTPBearer(auto_error=False, description="A Railyard API token (ry_...).")

IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of one request, ready to act."""

    principal: Principal
    request_id: str
    idempotency: IdempotencyRequest | None = None

    @property
    def username(self) -> str:
        return self.principal.username

    @contextmanager
    def acting(self) -> Iterator[CommandContext]:
        with acting_as(
            self.principal.username, correlation_id=self.request_id, idempotency=self.idempotency
        ) as context:
            yield context


class Auth:
    """Bearer-token authentication and role checks for the API."""

    def __init__(self, directory: Directory, log: EventLog, limits: Limits) -> None:
        self.directory = directory
        self.log = log
        self.limits = limits

    def require(self, *roles: Role) -> Callable[..., Awaitable[Caller]]:
        """A dependency admitting callers with any of `roles` (any role when empty)."""
        allowed = frozenset(roles)

        async def dependency(
            request: Request,
            credentials: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008
        ) -> Caller:
            repeat = await _repeat_key(request)
            key = repeat.key if repeat is not None and repeat.valid else None
            principal, stored = await self._principal(request, credentials, key)
            # Every later line of this request's log names who asked (a refusal too).
            structlog.contextvars.bind_contextvars(user=principal.username)
            if not _admits(allowed, principal):
                names = sorted(r.value for r in allowed)
                raise NotPermitted(
                    "role_required",
                    f"this requires one of the roles: {', '.join(names)}",
                    required_roles=names,
                )
            idempotency = None
            if repeat is not None:
                idempotency = _idempotency(request, principal, repeat, stored)
            return Caller(principal, _request_id(request), idempotency)

        return dependency

    async def _principal(
        self,
        request: Request,
        credentials: HTTPAuthorizationCredentials | None,
        key: str | None,
    ) -> tuple[Principal, Claim | None]:
        """The caller, by a bearer token or else a signed-in page's session, and the write
        they already made under the Idempotency-Key `key`: both read in one hand-off to a
        worker thread (each hand-off cost about as much as a read), for a token in one
        statement."""
        session_user = getattr(request.state, "session_user", None)
        if credentials is None and session_user:
            # A session begun before its user was last reactivated stays ended.
            signed_in_at = request.state.session.issued_at
            find = functools.partial(self.directory.principal, signed_in_at=signed_in_at)
            by_name, stored = await in_thread(
                _find_then, find, session_user, self._claim_lookup(key)
            )
            if by_name is not None:
                return by_name, stored
        if credentials is None:
            raise NotAuthenticated("a bearer token is required (Authorization: Bearer ry_...)")
        return await self._sign_in(
            request,
            credentials.credentials,
            functools.partial(self.directory.authenticate_with_claim, key=key),
            "the token is unknown, revoked or expired",
        )

    def _claim_lookup(self, key: str | None) -> Callable[[Principal], Claim | None]:
        if key is None:
            return _nothing
        return lambda principal: self.log.find_claim(principal.username, key)

    async def sign_in_with_secret(
        self,
        request: Request,
        secret: str,
        authenticate: Callable[[str], Principal | None],
        refusal: str,
    ) -> Principal:
        """The principal a secret (an API token, a calendar feed secret) belongs to; an
        address that presented too many bad ones lately is refused before it is checked."""
        principal, _ = await self._sign_in(
            request, secret, lambda value: (authenticate(value), None), refusal
        )
        return principal

    async def _sign_in(
        self,
        request: Request,
        secret: str,
        authenticate: Callable[[str], tuple[Principal | None, Claim | None]],
        refusal: str,
    ) -> tuple[Principal, Claim | None]:
        address = client_address(request)
        limiter = self.limits.token_failures_per_address
        verdict = limiter.check(address)
        if not verdict.allowed:
            log.warning("sign_in_rate_limited", address=address, path=request.url.path)
            raise TooManyRequests(
                "too many unknown, revoked or expired tokens from this address;"
                f" try again in {count(verdict.retry_after_s, 'second')}",
                verdict.retry_after_s,
            )
        principal, found = await in_thread(authenticate, secret)
        if principal is None:
            limiter.hit(address)
            log.warning("token_refused", address=address, path=request.url.path)
            raise NotAuthenticated(refusal, token_given=True)
        return principal, found


@dataclass(frozen=True)
class _RepeatKey:
    """A write's Idempotency-Key (`valid`: of the allowed form) and its request's
    fingerprint."""

    key: str
    valid: bool
    fingerprint: str


async def _repeat_key(request: Request) -> _RepeatKey | None:
    if request.method not in WRITE_METHODS:
        return None
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        return _RepeatKey(key, False, "")
    body = _canonical(await request.body())
    digest = hashlib.sha256()
    for part in (
        request.method.encode(),
        request.url.path.encode(),
        request.url.query.encode(),
        body,
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return _RepeatKey(key, True, digest.hexdigest())


def _canonical(body: bytes) -> bytes:
    """A JSON body as its data, not its spelling: the same values sent again with other
    spacing or key order are the same request."""
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        return body


def _idempotency(
    request: Request, principal: Principal, repeat: _RepeatKey, stored: Claim | None
) -> IdempotencyRequest:
    """The request's claim on its key, or the answer a repeat of it gets (the first one's)."""
    if not repeat.valid:
        raise InvalidCommand(
            "invalid_idempotency_key", "an Idempotency-Key is 1-255 visible ASCII characters"
        )
    request.state.idempotency_fingerprint = repeat.fingerprint
    if stored is not None:
        if stored.fingerprint != repeat.fingerprint:
            raise InvalidCommand(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request",
            )
        raise IdempotentReplay(stored.status, stored.response)
    route = request.scope.get("route")
    status = int(getattr(route, "status_code", None) or 200)
    return IdempotencyRequest(principal.username, repeat.key, repeat.fingerprint, status)


def _find_then(
    find: Callable[[str], Principal | None], value: str, then: Callable[[Principal], Claim | None]
) -> tuple[Principal | None, Claim | None]:
    """Who `value` (a token, a session's username) belongs to, and what `then` reads for
    them: run in one worker thread, one hand-off for both reads."""
    principal = find(value)
    return principal, (then(principal) if principal is not None else None)


def _admits(allowed: frozenset[Role], principal: Principal) -> bool:
    return not allowed or principal.has(*allowed)


def _nothing(_: Principal) -> None:
    return None


def per_user(
    limiter: RateLimiter, admitted: Callable[..., Awaitable[Caller]], what: str
) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting `admitted`'s callers while they stay within `limiter`
    (counted per username); beyond it 429 with Retry-After."""

    async def dependency(caller: Caller = Depends(admitted)) -> Caller:  # noqa: B008  # FastAPI's dependency declaration
        verdict = limiter.hit(caller.username)
        if not verdict.allowed:
            log.warning("rate_limited", limit=what, username=caller.username)
            raise TooManyRequests(
                f"too many {what} for {caller.username}; try again in"
                f" {count(verdict.retry_after_s, 'second')}",
                verdict.retry_after_s,
            )
        return caller

    return dependency


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")
