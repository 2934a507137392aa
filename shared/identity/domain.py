"""Users, their roles and their credentials, as an event-sourced aggregate.

Secrets never enter the log in clear: tokens and passwords are recorded as hashes only,
and the consumer feed redacts even those.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from shared.domain import AuditedAggregate, InvalidCommand, RuleViolation, name_based_id


class Role(StrEnum):
    REQUESTER = "requester"
    RELEASE_MANAGER = "release_manager"
    IT_STAFF = "it_staff"
    CAB_MEMBER = "cab_member"
    METRICS_READER = "metrics_reader"
    ADMIN = "admin"
    PIPELINE = "pipeline"


IT_ROLES = (Role.RELEASE_MANAGER, Role.IT_STAFF, Role.CAB_MEMBER)
"""IT's side of the process: who talks on any request or production change."""


class Team(StrEnum):
    """Where an IT person works; operations approvers are CAB members from operations."""

    DEVELOPMENT = "development"
    QA = "qa"
    OPERATIONS = "operations"


USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
TOKEN = re.compile(r"^ry_([0-9a-f]{16})_([A-Za-z0-9_-]{32,64})$")
MIN_PASSWORD = 10
EMAIL = r"^[^@\s]+@[^@\s]+$"
"""An email address as the API and the pages accept it: something@somewhere."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as every rule about "who may" sees them."""

    username: str
    display_name: str
    roles: frozenset[Role]
    department: str | None
    team: Team | None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


def user_id(username: str) -> UUID:
    return name_based_id("user", username)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh bearer token and its id; the token is shown once and never stored."""
    token_id = secrets.token_hex(8)
    return token_id, f"ry_{token_id}_{secrets.token_urlsafe(32)}"


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def _check_profile(roles: list[str], department: str | None, team: str | None) -> None:
    if not roles:
        raise InvalidCommand("role_required", "a user needs at least one role")
    unknown = sorted(set(roles) - {r.value for r in Role})
    if unknown:
        raise InvalidCommand("unknown_role", f"unknown roles: {', '.join(unknown)}")
    if Role.REQUESTER in roles and not (department and department.strip()):
        raise InvalidCommand("department_required", "a requester belongs to a department")
    if team is not None and team not in {t.value for t in Team}:
        raise InvalidCommand("unknown_team", f"unknown team {team!r}")
    if Role.IT_STAFF in roles and not team:
        teams = ", ".join(t.value for t in Team)
        raise InvalidCommand("team_required", f"IT staff belong to a team ({teams})")


class User(AuditedAggregate):
    """A person or pipeline that acts in Railyard; every event names one."""

    @staticmethod
    def create_id(username: str) -> UUID:
        return user_id(username)

    @classmethod
    def register(
        cls,
        username: str,
        display_name: str,
        roles: list[str],
        department: str | None = None,
        team: str | None = None,
        email: str | None = None,
    ) -> User:
        if not USERNAME.match(username):
            raise InvalidCommand(
                "invalid_username",
                "a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-'",
            )
        _check_profile(roles, department, team)
        return cls(
            username=username,
            display_name=display_name.strip() or username,
            roles=sorted(set(roles)),
            department=department,
            team=team,
            email=email,
        )

    @event("Registered")
    def __init__(
        self,
        username: str,
        display_name: str,
        roles: list[str],
        department: str | None,
        team: str | None,
        email: str | None,
    ) -> None:
        self.username = username
        self.display_name = display_name
        self.roles = roles
        self.department = department
        self.team = team
        self.email = email
        self.active = True
        self.password_hash: str | None = None
        self.tokens: dict[str, bool] = {}  # token id -> still valid

    def change_profile(
        self,
        roles: list[str],
        department: str | None,
        team: str | None,
        display_name: str | None = None,
        email: str | None = None,
    ) -> None:
        self._require_active()
        _check_profile(roles, department, team)
        self._profile_changed(
            roles=sorted(set(roles)),
            department=department,
            team=team,
            display_name=display_name or self.display_name,
            email=email if email is not None else self.email,
        )

    @event("ProfileChanged")
    def _profile_changed(
        self,
        roles: list[str],
        department: str | None,
        team: str | None,
        display_name: str,
        email: str | None,
    ) -> None:
        self.roles = roles
        self.department = department
        self.team = team
        self.display_name = display_name
        self.email = email

    def issue_token(self, label: str, expires_at: str | None) -> str:
        """Issue a bearer token; returns it in clear, the only time it is ever seen."""
        self._require_active()
        token_id, token = new_token()
        self._token_issued(
            token_id=token_id, token_hash=hash_token(token), label=label, expires_at=expires_at
        )
        return token

    @event("TokenIssued")
    def _token_issued(
        self, token_id: str, token_hash: str, label: str, expires_at: str | None
    ) -> None:
        self.tokens[token_id] = True

    def revoke_token(self, token_id: str, reason: str) -> None:
        if token_id not in self.tokens:
            raise RuleViolation("token_not_found", f"{self.username} has no token {token_id}")
        if not self.tokens[token_id]:
            raise RuleViolation("token_already_revoked", f"token {token_id} is already revoked")
        self._token_revoked(token_id=token_id, reason=reason)

    @event("TokenRevoked")
    def _token_revoked(self, token_id: str, reason: str) -> None:
        self.tokens[token_id] = False

    def set_password(self, password: str) -> None:
        self._require_active()
        if len(password) < MIN_PASSWORD:
            raise InvalidCommand(
                "password_too_short", f"a password has at least {MIN_PASSWORD} characters"
            )
        self._password_set(password_hash=hash_password(password))

    @event("PasswordSet")
    def _password_set(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def deactivate(self, reason: str) -> None:
        self._require_active()
        self._deactivated(reason=reason)

    @event("Deactivated")
    def _deactivated(self, reason: str) -> None:
        self.active = False
        self.tokens = dict.fromkeys(self.tokens, False)

    def reactivate(self, reason: str) -> None:
        """An admin undoes a deactivation: the person signs in again with the password
        they had. Their tokens stay revoked, and sessions from before stay ended."""
        if self.active:
            raise RuleViolation("user_active", f"{self.username} is already active")
        self._reactivated(reason=reason)

    @event("Reactivated")
    def _reactivated(self, reason: str) -> None:
        self.active = True

    def _require_active(self) -> None:
        if not self.active:
            raise RuleViolation("user_deactivated", f"{self.username} is deactivated")
