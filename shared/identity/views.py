"""Who exists and which tokens are valid, folded from the User events."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.identity.domain import TOKEN, Principal, Role, Team, User, hash_token
from shared.store.log import EventLog, LoggedEvent
from shared.store.projections import Handler, Projection, ProjectionGroup, event_topic
from shared.store.recorders import IDEMPOTENCY_TABLE, Claim
from shared.store.sql import Cursor


@dataclass(frozen=True)
class UserRow:
    username: str
    display_name: str
    email: str | None
    roles: list[str]
    department: str | None
    team: str | None
    active: bool
    has_password: bool


@dataclass(frozen=True)
class TokenRow:
    token_id: str
    username: str
    label: str
    issued_at: str
    expires_at: str | None
    revoked_at: str | None


SIGNED_IN_AFTER = "identity_signed_in_after"
"""When each reactivated person was last reactivated (epoch seconds): a session of theirs
begun before then (before the deactivation it undid, so) stays ended."""


class UsersProjection(Projection):
    name = "identity.users.v1"
    tables = ("identity_users", "identity_tokens", SIGNED_IN_AFTER)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t('identity_users')} ("
            " username TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE,"
            " display_name TEXT NOT NULL, email TEXT,"
            " roles TEXT NOT NULL, department TEXT, team TEXT, active INTEGER NOT NULL,"
            " password_hash TEXT)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t('identity_tokens')} ("
            " token_id TEXT PRIMARY KEY, username TEXT NOT NULL, token_hash TEXT NOT NULL,"
            " label TEXT NOT NULL, issued_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(SIGNED_IN_AFTER)} ("
            " username TEXT PRIMARY KEY, since BIGINT NOT NULL)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            event_topic(User, "Registered"): self._registered,
            event_topic(User, "ProfileChanged"): self._profile_changed,
            event_topic(User, "TokenIssued"): self._token_issued,
            event_topic(User, "TokenRevoked"): self._token_revoked,
            event_topic(User, "PasswordSet"): self._password_set,
            event_topic(User, "PasswordRehashed"): self._password_set,
            event_topic(User, "Deactivated"): self._deactivated,
            event_topic(User, "Reactivated"): self._reactivated,
        }

    def _registered(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t('identity_users')} (username, aggregate_id, display_name,"
            " email, roles, department, team, active) VALUES (:u, :a, :n, :e, :r, :d, :t, 1)",
            {
                "u": d["username"],
                "a": e.aggregate_id,
                "n": d["display_name"],
                "e": d.get("email"),
                "r": ",".join(d["roles"]),
                "d": d.get("department"),
                "t": d.get("team"),
            },
        )

    def _username(self, cur: Cursor, e: LoggedEvent) -> str:
        # Later events do not repeat the username; the aggregate id leads back to it.
        value = cur.scalar(
            f"SELECT username FROM {self.t('identity_users')} WHERE aggregate_id = :id",
            {"id": e.aggregate_id},
        )
        if value is None:
            raise LookupError(f"no user for aggregate {e.aggregate_id}")
        return str(value)

    def _profile_changed(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"UPDATE {self.t('identity_users')} SET roles = :r, department = :d, team = :t,"
            " display_name = :n, email = :e WHERE username = :u",
            {
                "r": ",".join(d["roles"]),
                "d": d.get("department"),
                "t": d.get("team"),
                "n": d["display_name"],
                "e": d.get("email"),
                "u": self._username(cur, e),
            },
        )

    def _token_issued(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t('identity_tokens')} (token_id, username, token_hash, label,"
            " issued_at, expires_at) VALUES (:id, :u, :h, :l, :at, :exp)",
            {
                "id": d["token_id"],
                "u": self._username(cur, e),
                "h": d["token_hash"],
                "l": d["label"],
                "at": e.occurred_at,
                "exp": d.get("expires_at"),
            },
        )

    def _token_revoked(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"UPDATE {self.t('identity_tokens')} SET revoked_at = :at WHERE token_id = :id",
            {"at": e.occurred_at, "id": e.data["token_id"]},
        )

    def _password_set(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"UPDATE {self.t('identity_users')} SET password_hash = :h WHERE username = :u",
            {"h": e.data["password_hash"], "u": self._username(cur, e)},
        )

    def _deactivated(self, cur: Cursor, e: LoggedEvent) -> None:
        username = self._username(cur, e)
        cur.execute(
            f"UPDATE {self.t('identity_users')} SET active = 0 WHERE username = :u", {"u": username}
        )
        cur.execute(
            f"UPDATE {self.t('identity_tokens')} SET revoked_at = COALESCE(revoked_at, :at)"
            " WHERE username = :u",
            {"at": e.occurred_at, "u": username},
        )

    def _reactivated(self, cur: Cursor, e: LoggedEvent) -> None:
        username = self._username(cur, e)
        cur.execute(
            f"UPDATE {self.t('identity_users')} SET active = 1 WHERE username = :u", {"u": username}
        )
        since = int(datetime.fromisoformat(e.occurred_at).timestamp())
        cur.execute(
            f"INSERT INTO {self.t(SIGNED_IN_AFTER)} (username, since) VALUES (:u, :s)"
            " ON CONFLICT (username) DO UPDATE SET since = excluded.since",
            {"u": username, "s": since},
        )


class Directory:
    """Queries over users and tokens; authenticates bearer tokens."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.projection = UsersProjection(log)
        self.group = ProjectionGroup(log, [self.projection])
        select = (
            "SELECT t.token_hash, t.expires_at, t.revoked_at, u.username, u.display_name,"
            " u.roles, u.department, u.team, u.active"
        )
        tokens = f" FROM {self._tokens()} t JOIN {self._users()} u ON u.username = t.username"
        self._sign_in = f"{select}{tokens} WHERE t.token_id = :id"
        self._sign_in_with_claim = (
            f"{select}, c.fingerprint AS claim_fingerprint, c.status AS claim_status,"
            " c.response AS claim_response, c.recorded_at AS claim_recorded_at"
            f"{tokens} LEFT JOIN {log.table(IDEMPOTENCY_TABLE)} c"
            " ON c.scope = u.username AND c.key = :claim_key WHERE t.token_id = :id"
        )

    def _users(self) -> str:
        return self.log.table("identity_users")

    def _tokens(self) -> str:
        return self.log.table("identity_tokens")

    def authenticate(self, token: str) -> Principal | None:
        return self.authenticate_with_claim(token, None)[0]

    def authenticate_with_claim(
        self, token: str, key: str | None
    ) -> tuple[Principal | None, Claim | None]:
        """Who `token` belongs to and, when `key` is given, the write they already made
        under that Idempotency-Key: every API request signs in, and every write looks its
        key up, so the two reads, and the view's freshness check, are one statement."""
        match = TOKEN.match(token)
        if match is None:
            return None, None
        statement, params = self._sign_in, {"id": match.group(1)}
        if key is not None:
            statement, params = self._sign_in_with_claim, {**params, "claim_key": key}
        rows = self.group.fresh_rows(statement, params)
        row = rows[0] if rows else None
        if row is None or not hmac.compare_digest(row["token_hash"], hash_token(token)):
            return None, None
        if row["revoked_at"] or not row["active"]:
            return None, None
        if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) <= datetime.now(UTC):
            return None, None
        principal = _principal(row)
        if key is None or row.get("claim_status") is None:
            return principal, None
        # The claim's own columns, read as `EventLog.find_claim` reads them.
        return principal, Claim(
            scope=principal.username,
            key=key,
            fingerprint=row["claim_fingerprint"],
            status=row["claim_status"],
            response=row["claim_response"],
            recorded_at=row["claim_recorded_at"],
        )

    def principal(self, username: str, signed_in_at: int | None = None) -> Principal | None:
        """The active person of that name; `signed_in_at` (a session's start, epoch
        seconds): None too if it began before they were last reactivated, when every
        session they had ended."""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT u.*, s.since FROM {self._users()} u LEFT JOIN"
                f" {self.log.table(SIGNED_IN_AFTER)} s ON s.username = u.username"
                " WHERE u.username = :u AND u.active = 1",
                {"u": username},
            )
            row = cur.fetchone()
        if row is None:
            return None
        # Whole seconds: a session begun in the second of the reactivation ends too.
        if signed_in_at is not None and row["since"] is not None and signed_in_at <= row["since"]:
            return None
        return _principal(row)

    def password_hash(self, username: str) -> str | None:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            value = cur.scalar(
                f"SELECT password_hash FROM {self._users()} WHERE username = :u AND active = 1",
                {"u": username},
            )
        return str(value) if value else None

    def users(self, role: str | None = None) -> list[UserRow]:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(f"SELECT * FROM {self._users()} ORDER BY username")
            rows = cur.fetchall()
        users = [_user(r) for r in rows]
        return [u for u in users if role is None or role in u.roles]

    def user(self, username: str) -> UserRow | None:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(f"SELECT * FROM {self._users()} WHERE username = :u", {"u": username})
            row = cur.fetchone()
        return _user(row) if row else None

    def tokens(self, username: str) -> list[TokenRow]:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT token_id, username, label, issued_at, expires_at, revoked_at"
                f" FROM {self._tokens()} WHERE username = :u ORDER BY issued_at",
                {"u": username},
            )
            return [TokenRow(**r) for r in cur.fetchall()]

    def token_owner(self, token_id: str) -> str | None:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            value = cur.scalar(
                f"SELECT username FROM {self._tokens()} WHERE token_id = :id", {"id": token_id}
            )
        return str(value) if value else None


def _principal(row: Mapping[str, object]) -> Principal:
    roles = frozenset(Role(r) for r in str(row["roles"]).split(",") if r)
    team = row.get("team")
    return Principal(
        username=str(row["username"]),
        display_name=str(row["display_name"]),
        roles=roles,
        department=str(row["department"]) if row.get("department") else None,
        team=Team(str(team)) if team else None,
    )


def _user(row: Mapping[str, object]) -> UserRow:
    return UserRow(
        username=str(row["username"]),
        display_name=str(row["display_name"]),
        email=str(row["email"]) if row.get("email") else None,
        roles=[r for r in str(row["roles"]).split(",") if r],
        department=str(row["department"]) if row.get("department") else None,
        team=str(row["team"]) if row.get("team") else None,
        active=bool(row["active"]),
        has_password=bool(row.get("password_hash")),
    )
