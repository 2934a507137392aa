"""Use cases for people and credentials: register, change roles, issue and revoke tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.application import Outcome, UseCases, current_actor
from shared.domain import NotFound, RuleViolation, require_version
from shared.identity.domain import Role, ScryptCost, User, user_id
from shared.identity.views import Directory
from shared.store.log import EventLog


@dataclass(frozen=True)
class IssuedToken:
    username: str
    token_id: str
    token: str
    label: str
    expires_at: str | None


@dataclass(frozen=True)
class UserRef:
    username: str
    version: int


class Identity(UseCases):
    """Only admins call these through the API; the CLI calls them to bootstrap."""

    def __init__(self, log: EventLog, directory: Directory | None = None) -> None:
        super().__init__(log)
        self.directory = directory

    def _spelled(self, department: str | None) -> str | None:
        """A department as the people already in it spell it ("sales" is Sales: a VP
        registered as "sales" could not answer, rank or comment on Sales's requests)."""
        if not department or self.directory is None:
            return department
        known = {u.department.casefold(): u.department for u in self.directory.users()
                 if u.department}  # fmt: skip
        return known.get(department.strip().casefold(), department)

    def register(
        self,
        username: str,
        display_name: str,
        roles: list[str],
        department: str | None = None,
        team: str | None = None,
        email: str | None = None,
    ) -> UserRef:
        def command() -> Outcome[UserRef]:
            if self.log.exists(user_id(username)):
                raise RuleViolation("user_exists", f"user {username!r} already exists")
            spelled = self._spelled(department)
            user = User.register(username, display_name, roles, spelled, team, email)
            return Outcome([user], UserRef(username, user.version))

        return self.run(command)

    def change_profile(
        self,
        username: str,
        roles: list[str],
        department: str | None,
        team: str | None,
        display_name: str | None = None,
        email: str | None = None,
        expected_version: int | None = None,
    ) -> UserRef:
        """With `expected_version` (If-Match), only if nobody changed the user since they
        were read at that version."""

        def command() -> Outcome[UserRef]:
            user = self._user(username)
            require_version("user", user.version, expected_version)
            if username == current_actor() and Role.ADMIN in user.roles and Role.ADMIN not in roles:
                # As deactivating oneself: the last admin would leave nobody to undo it.
                raise RuleViolation(
                    "cannot_remove_own_admin",
                    "you cannot take the admin role from yourself: ask another admin",
                )
            user.change_profile(roles, self._spelled(department), team, display_name, email)
            return Outcome([user], UserRef(username, user.version))

        return self.run(command)

    def change_contact(self, username: str, display_name: str | None, email: str | None) -> UserRef:
        """A person's own name and email address, their roles, department and team kept
        (the page a person changes them on is their own: they asked an admin before)."""

        def command() -> Outcome[UserRef]:
            user = self._user(username)
            user.change_profile(list(user.roles), user.department, user.team, display_name, email)
            return Outcome([user], UserRef(username, user.version))

        return self.run(command)

    def issue_token(
        self, username: str, label: str, expires_in_days: int | None = None
    ) -> IssuedToken:
        expires_at = (
            (datetime.now(UTC) + timedelta(days=expires_in_days)).isoformat()
            if expires_in_days
            else None
        )

        def command() -> Outcome[IssuedToken]:
            user = self._user(username)
            token = user.issue_token(label, expires_at)
            token_id = token.split("_")[1]
            return Outcome([user], IssuedToken(username, token_id, token, label, expires_at))

        return self.run(command)

    def revoke_token(self, username: str, token_id: str, reason: str) -> UserRef:
        def command() -> Outcome[UserRef]:
            user = self._user(username)
            user.revoke_token(token_id, reason)
            return Outcome([user], UserRef(username, user.version))

        return self.run(command)

    def set_password(self, username: str, password: str) -> UserRef:
        def command() -> Outcome[UserRef]:
            user = self._user(username)
            user.set_password(password, self.password_cost)
            return Outcome([user], UserRef(username, user.version))

        return self.run(command)

    def rehash_password(self, username: str, password: str) -> bool:
        """After a sign-in with this password: its hash made again with the work factors
        configured now, if it was made with others (True when it was)."""

        def command() -> Outcome[bool]:
            user = self._user(username)
            done = user.rehash_password(password, self.password_cost)
            return Outcome([user] if done else [], done)

        return self.run(command)

    @property
    def password_cost(self) -> ScryptCost:
        return ScryptCost(*self.log.settings.password_scrypt)

    def deactivate(self, username: str, reason: str) -> UserRef:
        """Deactivate someone else: an admin who deactivated themselves would be locked
        out with no one, perhaps, left to let them back in."""
        if username == current_actor():
            raise RuleViolation(
                "cannot_deactivate_self", "you cannot deactivate yourself: ask another admin"
            )

        def command() -> Outcome[UserRef]:
            user = self._user(username)
            user.deactivate(reason)
            return Outcome([user], UserRef(username, user.version))

        return self.run(command)

    def reactivate(self, username: str, reason: str) -> UserRef:
        def command() -> Outcome[UserRef]:
            user = self._user(username)
            user.reactivate(reason)
            return Outcome([user], UserRef(username, user.version))

        return self.run(command)

    def version_of(self, username: str) -> int:
        """The user's version, as an ETag gives it and If-Match names it."""
        return self._user(username).version

    def _user(self, username: str) -> User:
        """The user named `username`; their id is made from the name, so an unknown one is
        named as it was given (its made-up id would tell the caller nothing)."""
        uid = user_id(username)
        if not self.log.exists(uid):
            raise NotFound("user_not_found", f"no user {username!r}")
        return self.log.get(uid, User, f"user {username!r}")
