"""The notification service's tables and the queries over them.

Lookups (people, requests, bundles, changes) are folded from the log by the notifier in
the same transaction that enqueues deliveries, so who hears about an event is decided by
what the log said at that event, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from shared import contracts as c
from shared.store.log import EventLog
from shared.store.sql import Cursor

USERS, REQUESTS, BUNDLES, CHANGES = (
    "notify_users",
    "notify_requests",
    "notify_bundles",
    "notify_changes",
)
ENDPOINTS, SUBSCRIPTIONS = "notify_endpoints", "notify_subscriptions"
PARTICIPANTS = "notify_participants"  # who has commented on each request or change
FOLLOWERS = "notify_followers"  # who follows each request or change
OUTBOX, ATTEMPTS, DIGESTS = "notify_outbox", "notify_attempts", "notify_digests"

# What the notifier folds from the log: dropped and refolded on a rebuild.
LOOKUPS = (USERS, REQUESTS, BUNDLES, CHANGES, ENDPOINTS, SUBSCRIPTIONS, PARTICIPANTS, FOLLOWERS)
# What happened to deliveries: never dropped, so a rebuild re-enqueues nothing already
# enqueued (the delivery id is the natural key) and never re-sends anything.
DELIVERIES = (OUTBOX, ATTEMPTS, DIGESTS)
TABLES = (*LOOKUPS, *DELIVERIES)

DDL = {
    USERS: "username TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE, roles TEXT NOT NULL,"
    " department TEXT, email TEXT, active INTEGER NOT NULL",
    # number: REQ-n / CHG-n, the order of the creating event in the log (decision 105).
    REQUESTS: "id TEXT PRIMARY KEY, title TEXT NOT NULL, department TEXT NOT NULL, owner TEXT,"
    " bundle_id TEXT, number INTEGER",
    BUNDLES: "id TEXT PRIMARY KEY, name TEXT NOT NULL, deploy_date TEXT, request_ids TEXT NOT NULL",
    CHANGES: "id TEXT PRIMARY KEY, title TEXT NOT NULL, change_type TEXT NOT NULL,"
    " requester TEXT, implementers TEXT NOT NULL, bundle_id TEXT, subsystems TEXT NOT NULL,"
    " window_start TEXT, window_end TEXT, open INTEGER NOT NULL, number INTEGER",
    ENDPOINTS: "id TEXT PRIMARY KEY, url TEXT NOT NULL, event_types TEXT NOT NULL,"
    " description TEXT NOT NULL, active INTEGER NOT NULL, removed INTEGER NOT NULL,"
    " max_in_flight INTEGER NOT NULL, timeout_s DOUBLE PRECISION NOT NULL,"
    " secret_version INTEGER NOT NULL, registered_at TEXT NOT NULL",
    # secret_version: which of the person's webhook secrets signs (NULL: the first).
    SUBSCRIPTIONS: "username TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE,"
    " channels TEXT NOT NULL, webhook_url TEXT, followed TEXT NOT NULL,"
    " secret_version INTEGER",
    PARTICIPANTS: "item_id TEXT NOT NULL, username TEXT NOT NULL, PRIMARY KEY (item_id, username)",
    FOLLOWERS: "item_id TEXT NOT NULL, username TEXT NOT NULL, kind TEXT NOT NULL,"
    " followed_at TEXT NOT NULL, PRIMARY KEY (item_id, username)",
    # One row per (event, recipient): the natural key makes enqueueing idempotent.
    OUTBOX: "delivery_id TEXT PRIMARY KEY, position BIGINT NOT NULL, event_type TEXT NOT NULL,"
    " channel TEXT NOT NULL, target TEXT NOT NULL, topic TEXT, payload TEXT NOT NULL,"
    " status TEXT NOT NULL, attempts INTEGER NOT NULL, created_at TEXT NOT NULL,"
    " next_attempt_at TEXT NOT NULL, leased_until TEXT, delivered_at TEXT,"
    " last_error TEXT",
    ATTEMPTS: "delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, at TEXT NOT NULL,"
    " outcome TEXT NOT NULL, status_code INTEGER, error TEXT,"
    " duration_ms DOUBLE PRECISION NOT NULL, PRIMARY KEY (delivery_id, attempt)",
    DIGESTS: "username TEXT PRIMARY KEY, sent_on TEXT NOT NULL",
}
INDEXES = (
    (OUTBOX, "status, next_attempt_at"),
    (OUTBOX, "target, status"),
    (FOLLOWERS, "username"),
)


def create_tables(log: EventLog, cur: Cursor) -> None:
    for table, columns in DDL.items():
        cur.execute(f"CREATE TABLE IF NOT EXISTS {log.table(table)} ({columns})")
    for table, columns in INDEXES:
        name = f"{table}_{columns.replace(', ', '_')}"
        cur.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {log.table(table)} ({columns})")


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    max_in_flight: int
    timeout_s: float
    secret_version: int
    registered_at: str


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    position: int
    event_type: str
    channel: str
    target: str
    topic: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: str
    next_attempt_at: str
    delivered_at: str | None
    last_error: str | None


def endpoint_from(row: dict[str, Any]) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        event_types=orjson.loads(row["event_types"]),
        description=row["description"],
        active=bool(row["active"]),
        max_in_flight=int(row["max_in_flight"]),
        timeout_s=float(row["timeout_s"]),
        secret_version=int(row["secret_version"]),
        registered_at=row["registered_at"],
    )


def delivery_from(row: dict[str, Any]) -> Delivery:
    return Delivery(
        delivery_id=row["delivery_id"],
        position=int(row["position"]),
        event_type=row["event_type"],
        channel=row["channel"],
        target=row["target"],
        topic=row["topic"],
        payload=orjson.loads(row["payload"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        delivered_at=row["delivered_at"],
        last_error=row["last_error"],
    )


class NotifyViews:
    """Queries for the API: endpoints, deliveries, a person's subscriptions."""

    def __init__(self, log: EventLog, group: Any) -> None:
        self.log = log
        self.group = group

    def _t(self, name: str) -> str:
        return self.log.table(name)

    def endpoints(self) -> list[Endpoint]:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT * FROM {self._t(ENDPOINTS)} WHERE removed = 0 ORDER BY registered_at"
            )
            return [endpoint_from(r) for r in cur.fetchall()]

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT * FROM {self._t(ENDPOINTS)} WHERE id = :id AND removed = 0",
                {"id": endpoint_id},
            )
            row = cur.fetchone()
        return endpoint_from(row) if row else None

    def deliveries(
        self, target: str, status: str | None = None, limit: int = 100, before: int | None = None
    ) -> list[Delivery]:
        self.group.ensure_fresh()
        clauses = ["target = :target"]
        params: dict[str, Any] = {"target": target, "limit": limit}
        if status:
            clauses.append("status = :status")
            params["status"] = status
        if before is not None:
            clauses.append("position < :before")
            params["before"] = before
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT * FROM {self._t(OUTBOX)} WHERE {' AND '.join(clauses)}"
                " ORDER BY position DESC LIMIT :limit",
                params,
            )
            return [delivery_from(r) for r in cur.fetchall()]

    def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT attempt, at, outcome, status_code, error, duration_ms"
                f" FROM {self._t(ATTEMPTS)} WHERE delivery_id = :id ORDER BY attempt",
                {"id": delivery_id},
            )
            return cur.fetchall()

    def subscriptions(self, username: str) -> dict[str, Any] | None:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT channels, webhook_url, followed, secret_version"
                f" FROM {self._t(SUBSCRIPTIONS)} WHERE username = :u",
                {"u": username},
            )
            row = cur.fetchone()
            cur.execute(
                f"SELECT item_id, kind FROM {self._t(FOLLOWERS)} WHERE username = :u"
                " ORDER BY followed_at, item_id",
                {"u": username},
            )
            following = {r["item_id"]: r["kind"] for r in cur.fetchall()}
        if row is None:
            return None
        return {
            "channels": orjson.loads(row["channels"]),
            "webhook_url": row["webhook_url"],
            "followed": orjson.loads(row["followed"]),
            "following": following,
            "secret_version": int(row["secret_version"] or 1),
        }

    def followed_items(self, username: str) -> list[dict[str, Any]]:
        """The requests and changes `username` follows, oldest first: each one's kind, id,
        reference (REQ-12, CHG-7) and title, as far as the log has said."""
        self.group.ensure_fresh()
        found: list[dict[str, Any]] = []
        with self.log.db.transaction() as cur:
            for kind, table, references in (
                ("request", REQUESTS, c.REQUEST_REFERENCES),
                ("change", CHANGES, c.CHANGE_REFERENCES),
            ):
                cur.execute(
                    f"SELECT f.item_id AS id, f.followed_at, i.number, i.title"
                    f" FROM {self._t(FOLLOWERS)} f JOIN {self._t(table)} i ON i.id = f.item_id"
                    " WHERE f.username = :u AND f.kind = :k",
                    {"u": username, "k": kind},
                )
                found.extend(
                    {**r, "kind": kind, "reference": references.of(r["number"])}
                    for r in cur.fetchall()
                )
        return sorted(found, key=lambda r: (r["followed_at"], r["id"]))

    def numbered(self, kind: str, number: int) -> str | None:
        """The id of the request or change numbered `number` (REQ-12, CHG-7), if any."""
        table = {"request": REQUESTS, "change": CHANGES}[kind]
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            found = cur.scalar(f"SELECT id FROM {self._t(table)} WHERE number = :n", {"n": number})
        return str(found) if found is not None else None

    def follows(self, username: str, item_id: str) -> bool:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            return bool(
                cur.scalar(
                    f"SELECT 1 FROM {self._t(FOLLOWERS)} WHERE username = :u AND item_id = :i",
                    {"u": username, "i": item_id},
                )
            )

    def bundle_names(self, ids: list[str]) -> dict[str, str]:
        """The names of release bundles, by id (as far as the log has said)."""
        self.group.ensure_fresh()
        if not ids:
            return {}
        params = {f"b{n}": value for n, value in enumerate(ids)}
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT id, name FROM {self._t(BUNDLES)}"
                f" WHERE id IN ({', '.join(':' + k for k in params)})",
                params,
            )
            return {r["id"]: r["name"] for r in cur.fetchall()}

    def told(self, username: str, limit: int = 20) -> list[dict[str, Any]]:
        """What `username` was told lately, newest first, by whatever channel: each
        message with when what it tells of happened and how its delivery stands."""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT channel, status, last_error, created_at, payload FROM {self._t(OUTBOX)}"
                " WHERE target = :u AND channel <> 'endpoint' ORDER BY position DESC, channel"
                " LIMIT :n",
                {"u": username, "n": limit},
            )
            rows = cur.fetchall()
        told = []
        for row in rows:
            payload = orjson.loads(row["payload"])
            told.append(
                {
                    **{k: row[k] for k in ("channel", "status", "last_error")},
                    **payload["message"],
                    "at": payload["event"].get("occurred_at") or row["created_at"],
                }
            )
        # Shown by when it happened, newest first: the log's order is when it was written,
        # which a history imported or generated with its own times does not follow.
        told.sort(key=lambda m: datetime.fromisoformat(m["at"]), reverse=True)
        return told

    def email_of(self, username: str) -> str | None:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            found = cur.scalar(
                f"SELECT email FROM {self._t(USERS)} WHERE username = :u", {"u": username}
            )
        return str(found) if found else None
