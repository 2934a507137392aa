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
from typing import NamedTuple
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
MAX_EMAIL = 254
MAX_REASON = 500
"""The longest reason for deactivating, reactivating or revoking, in the API and the CLI
(a reason is also needed: something besides spaces)."""


def is_email(value: str) -> bool:
    """What the API's schema, the people pages and the CLI take as an email address."""
    return len(value) <= MAX_EMAIL and re.match(EMAIL, value) is not None


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


class ScryptCost(NamedTuple):
    """scrypt's work factors: CPU and memory cost `n` (a power of two), block size `r`,
    parallelism `p`. Python runs the `p` passes one after another, so `p` buys time
    without memory (each hash holds 128 * n * r bytes)."""

    n: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        return 128 * self.n * self.r

    @property
    def below_owasp(self) -> bool:
        """Weaker than OWASP's scrypt minimum (n=2**17, r=8, p=1, or as much work
        spread over `p`: 2**14 with p=5 the least of its equivalents)."""
        return self.r < 8 or self.n * self.p < OWASP_SCRYPT.n * OWASP_SCRYPT.p


OWASP_SCRYPT = ScryptCost(2**14, 8, 5)
"""OWASP's Password Storage Cheat Sheet's scrypt minimum with the least memory (16 MiB per
hash; a sign-in takes some 0.25 s of one core)."""


def hash_password(password: str, cost: ScryptCost = OWASP_SCRYPT, salt: bytes | None = None) -> str:
    """The stored form, `scrypt$n$r$p$salt$digest`: it names its own work factors, so a
    hash made under other settings still verifies (and is upgraded at sign-in)."""
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost)
    return f"scrypt${cost.n}${cost.r}${cost.p}${salt.hex()}${digest.hex()}"


def cost_of(stored: str) -> ScryptCost | None:
    """The work factors a stored hash was made with (None if it cannot be read)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        return ScryptCost(int(parts[1]), int(parts[2]), int(parts[3]))
    except ValueError:
        return None


def password_matches(password: str, stored: str | None) -> bool:
    cost = cost_of(stored) if stored else None
    if stored is None or cost is None:
        return False
    try:
        candidate = _scrypt(password, bytes.fromhex(stored.split("$")[4]), cost)
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), stored.split("$")[5])


def _scrypt(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    # maxmem: OpenSSL's own default (32 MiB) refuses n=2**15 with r=8; the settings bound
    # what this process makes, and a stored hash was made by them.
    return hashlib.scrypt(
        password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=2 * cost.memory + 2**20
    )


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise InvalidCommand(
            "invalid_username",
            "a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-'",
        )


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
    if team and not {Role.IT_STAFF, Role.CAB_MEMBER} & set(roles):
        raise InvalidCommand(
            "team_not_used",
            f"team {team!r} is kept for IT staff and CAB members only (the CAB counts an"
            " operations approver by it): leave it empty for these roles",
        )
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
        check_username(username)
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

    def set_password(self, password: str, cost: ScryptCost = OWASP_SCRYPT) -> None:
        self._require_active()
        if len(password) < MIN_PASSWORD:
            raise InvalidCommand(
                "password_too_short", f"a password has at least {MIN_PASSWORD} characters"
            )
        self._password_set(password_hash=hash_password(password, cost))

    @event("PasswordSet")
    def _password_set(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def rehash_password(self, password: str, cost: ScryptCost) -> bool:
        """The same password hashed again with the work factors configured now, when its
        stored hash was made with others; given only the password that hash matches.
        False when there was nothing to do."""
        self._require_active()
        stored = self.password_hash
        if stored is None or cost_of(stored) == cost or not password_matches(password, stored):
            return False
        self._password_rehashed(password_hash=hash_password(password, cost))
        return True

    @event("PasswordRehashed")
    def _password_rehashed(self, password_hash: str) -> None:
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
