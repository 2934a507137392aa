"""People and tokens over HTTP: admins manage users; everyone can see who they are and
manage their own tokens."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from shared.domain import NotFound, NotPermitted
from shared.http.auth import Auth, Caller
from shared.http.models import IfMatch, RequestBody, expected_version, tagged
from shared.http.problems import IF_MATCH_RESPONSES
from shared.http.routing import CreatedAt, ServiceRouter
from shared.identity.application import Identity, IssuedToken, UserRef
from shared.identity.domain import EMAIL, MAX_EMAIL, MAX_REASON, Role, Team
from shared.identity.views import Directory, TokenRow, UserRow

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
Username = Annotated[str, Field(pattern=USERNAME_PATTERN)]
UsernamePath = Annotated[str, Path(pattern=USERNAME_PATTERN)]
TokenIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


class Strict(RequestBody):
    """Unknown fields are refused (422): no mass assignment."""


class NewUser(Strict):
    username: Username
    display_name: str = Field(default="", max_length=200)
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    department: str | None = Field(default=None, min_length=1, max_length=100)
    team: Team | None = None
    email: str | None = Field(default=None, max_length=MAX_EMAIL, pattern=EMAIL)


class ProfileChange(Strict):
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    department: str | None = Field(default=None, min_length=1, max_length=100)
    team: Team | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=MAX_EMAIL, pattern=EMAIL)


class NewToken(Strict):
    label: str = Field(default="api", min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class Revocation(Strict):
    reason: str = Field(default="revoked", min_length=1, max_length=MAX_REASON)


class Deactivation(Strict):
    """Why a person is deactivated, or reactivated."""

    reason: str = Field(min_length=1, max_length=MAX_REASON)


class Me(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    department: str | None
    team: str | None


def identity_router(auth: Auth, identity: Identity, directory: Directory) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["people and tokens"])
    admin = auth.require(Role.ADMIN)
    anyone = auth.require()

    @router.get("/me", response_model=Me, summary="Who the token belongs to")
    def me(caller: Annotated[Caller, Depends(anyone)]) -> Me:
        p = caller.principal
        return Me(
            username=p.username,
            display_name=p.display_name,
            roles=sorted(r.value for r in p.roles),
            department=p.department,
            team=p.team.value if p.team else None,
        )

    @router.get("/users", response_model=list[UserRow], summary="Every user")
    def users(caller: Annotated[Caller, Depends(admin)], role: Role | None = None) -> list[UserRow]:
        return directory.users(role.value if role else None)

    @router.post(
        "/users",
        response_model=UserRef,
        status_code=201,
        summary="Register a user",
        responses=CreatedAt("/api/users/{username}"),
    )
    def register(body: NewUser, caller: Annotated[Caller, Depends(admin)]) -> UserRef:
        with caller.acting():
            return identity.register(
                body.username,
                body.display_name,
                [r.value for r in body.roles],
                body.department,
                body.team.value if body.team else None,
                body.email,
            )

    @router.get("/users/{username}", response_model=UserRow, summary="One user")
    def user(
        username: UsernamePath, caller: Annotated[Caller, Depends(anyone)], response: Response
    ) -> UserRow:
        _self_or_admin(caller, username)
        row = directory.user(username)
        if row is None:
            raise NotFound("user_not_found", f"no user {username!r}")
        return tagged(response, identity.version_of(username), row)

    @router.put(
        "/users/{username}/profile",
        response_model=UserRef,
        summary="Change a user's roles, department and team",
        responses=IF_MATCH_RESPONSES,
    )
    def change(
        username: UsernamePath,
        body: ProfileChange,
        caller: Annotated[Caller, Depends(admin)],
        response: Response,
        if_match: IfMatch = None,
    ) -> UserRef:
        with caller.acting():
            done = identity.change_profile(
                username,
                [r.value for r in body.roles],
                body.department,
                body.team.value if body.team else None,
                body.display_name,
                body.email,
                expected_version(if_match),
            )
        return tagged(response, done.version, done)

    @router.post(
        "/users/{username}/deactivate",
        response_model=UserRef,
        summary="Deactivate a user and revoke all their tokens",
    )
    def deactivate(
        username: UsernamePath, body: Deactivation, caller: Annotated[Caller, Depends(admin)]
    ) -> UserRef:
        with caller.acting():
            return identity.deactivate(username, body.reason)

    @router.post(
        "/users/{username}/reactivate",
        response_model=UserRef,
        summary="Reactivate a deactivated user (their tokens stay revoked)",
    )
    def reactivate(
        username: UsernamePath, body: Deactivation, caller: Annotated[Caller, Depends(admin)]
    ) -> UserRef:
        with caller.acting():
            return identity.reactivate(username, body.reason)

    @router.get(
        "/users/{username}/tokens",
        response_model=list[TokenRow],
        summary="A user's tokens (never the secrets)",
    )
    def tokens(
        username: UsernamePath, caller: Annotated[Caller, Depends(anyone)]
    ) -> list[TokenRow]:
        _self_or_admin(caller, username)
        return directory.tokens(username)

    @router.post(
        "/users/{username}/tokens",
        response_model=IssuedToken,
        status_code=201,
        summary="Issue a token: the response is the only time it is shown",
    )
    def issue(
        username: UsernamePath, body: NewToken, caller: Annotated[Caller, Depends(anyone)]
    ) -> IssuedToken:
        _self_or_admin(caller, username)
        with caller.acting():
            return identity.issue_token(username, body.label, body.expires_in_days)

    @router.post("/tokens/{token_id}/revoke", response_model=UserRef, summary="Revoke a token")
    def revoke(
        token_id: TokenIdPath, body: Revocation, caller: Annotated[Caller, Depends(anyone)]
    ) -> UserRef:
        owner = directory.token_owner(token_id)
        if owner is None:
            raise NotFound("token_not_found", f"no token {token_id}")
        _self_or_admin(caller, owner)
        with caller.acting():
            return identity.revoke_token(owner, token_id, body.reason)

    return router


def _self_or_admin(caller: Caller, username: str) -> None:
    if caller.username != username and not caller.principal.has(Role.ADMIN):
        raise NotPermitted("own_account_only", "only an admin may act on another user's account")
