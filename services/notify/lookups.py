"""The facts the notifier keeps to route events: people, requests, bundles, changes,
webhook endpoints, subscriptions and who follows what, folded from the log in the same
transaction as the deliveries they decide (`services.notify.notifier`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from services.notify.routing import CHANGE_CLOSING
from services.notify.views import (
    BUNDLES,
    CHANGES,
    ENDPOINTS,
    FOLLOWERS,
    PARTICIPANTS,
    REQUESTS,
    SUBSCRIPTIONS,
    USERS,
)
from shared import contracts as c
from shared.store.log import EventLog, LoggedEvent
from shared.store.numbers import next_number
from shared.store.sql import Cursor

NOTIFY = "services.notify.domain:"
IDENTITY = "shared.identity.domain:"


def pack(subsystems: Iterable[str]) -> str:
    return "|" + "|".join(subsystems) + "|"


def unpack(packed: str) -> list[str]:
    return [s for s in packed.split("|") if s]


class LookupFolding:
    """How each event changes the notifier's lookups."""

    log: EventLog

    def _t(self, name: str) -> str:
        return self.log.table(name)

    def _user_event(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        if e.type == "User.Registered":
            cur.execute(
                f"INSERT INTO {self._t(USERS)} (username, aggregate_id, roles,"
                " department, email, active) VALUES (:u, :a, :r, :d, :e, 1)",
                {
                    "u": d["username"],
                    "a": e.aggregate_id,
                    "r": ",".join(d["roles"]),
                    "d": d.get("department"),
                    "e": d.get("email"),
                },
            )
        elif e.type == "User.ProfileChanged":
            cur.execute(
                f"UPDATE {self._t(USERS)} SET roles = :r, department = :d, email = :e"
                " WHERE aggregate_id = :a",
                {
                    "r": ",".join(d["roles"]),
                    "d": d.get("department"),
                    "e": d.get("email"),
                    "a": e.aggregate_id,
                },
            )
        elif e.type in ("User.Deactivated", "User.Reactivated"):
            cur.execute(
                f"UPDATE {self._t(USERS)} SET active = :on WHERE aggregate_id = :a",
                {"on": int(e.type == "User.Reactivated"), "a": e.aggregate_id},
            )

    def _endpoint_event(self, cur: Cursor, e: LoggedEvent) -> None:
        d, table = e.data, self._t(ENDPOINTS)
        if e.type == "WebhookEndpoint.Registered":
            cur.execute(
                f"INSERT INTO {table} (id, url, event_types, description, active,"
                " removed, max_in_flight, timeout_s, secret_version, registered_at)"
                " VALUES (:id, :url, :types, :desc, 1, 0, :mif, :timeout, 1, :at)",
                {
                    "id": e.aggregate_id,
                    "url": d["url"],
                    "types": orjson.dumps(d["event_types"]).decode(),
                    "desc": d["description"],
                    "mif": d["max_in_flight"],
                    "timeout": d["timeout_s"],
                    "at": e.occurred_at,
                },
            )
            return
        by_type: dict[str, dict[str, Any]] = {
            "WebhookEndpoint.Changed": {
                "url": d.get("url"),
                "event_types": orjson.dumps(d.get("event_types")).decode(),
            },
            "WebhookEndpoint.Paused": {"active": 0},
            "WebhookEndpoint.Resumed": {"active": 1},
            "WebhookEndpoint.SecretRotated": {"secret_version": d.get("secret_version")},
            "WebhookEndpoint.Removed": {"active": 0, "removed": 1},
        }
        changes = by_type[e.type]

        sets = ", ".join(f"{k} = :{k}" for k in changes)
        cur.execute(f"UPDATE {table} SET {sets} WHERE id = :id", {**changes, "id": e.aggregate_id})

    def _subscription_event(self, cur: Cursor, e: LoggedEvent) -> None:
        table = self._t(SUBSCRIPTIONS)
        if e.type == "Subscriptions.Started":
            cur.execute(
                f"INSERT INTO {table} (username, aggregate_id, channels, webhook_url,"
                " followed) VALUES (:u, :a, '{}', NULL, '[]')",
                {"u": e.data["username"], "a": e.aggregate_id},
            )
            return
        if e.type in ("Subscriptions.ItemFollowed", "Subscriptions.ItemUnfollowed"):
            self._follower_event(cur, e)
            return
        if e.type == "Subscriptions.WebhookSecretReplaced":
            cur.execute(
                f"UPDATE {table} SET secret_version = :v WHERE aggregate_id = :a",
                {"v": e.data["secret_version"], "a": e.aggregate_id},
            )
            return
        cur.execute(
            f"SELECT channels, webhook_url, followed FROM {table} WHERE aggregate_id = :a",
            {"a": e.aggregate_id},
        )
        row = cur.fetchone()
        assert row is not None
        channels, followed = orjson.loads(row["channels"]), orjson.loads(row["followed"])
        url = row["webhook_url"]
        if e.type == "Subscriptions.Chose":
            channels[e.data["topic"]] = e.data["channel"]
        elif e.type == "Subscriptions.WebhookSet":
            url = e.data["url"]
        elif e.type == "Subscriptions.Followed":
            followed.append(e.data["bundle_id"])
        elif e.type == "Subscriptions.Unfollowed":
            followed = [b for b in followed if b != e.data["bundle_id"]]
        cur.execute(
            f"UPDATE {table} SET channels = :c, webhook_url = :w, followed = :f"
            " WHERE aggregate_id = :a",
            {
                "c": orjson.dumps(channels).decode(),
                "w": url,
                "f": orjson.dumps(followed).decode(),
                "a": e.aggregate_id,
            },
        )

    def _follower_event(self, cur: Cursor, e: LoggedEvent) -> None:
        """Someone follows a request or a change, or no longer does."""
        username = cur.scalar(
            f"SELECT username FROM {self._t(SUBSCRIPTIONS)} WHERE aggregate_id = :a",
            {"a": e.aggregate_id},
        )
        item = {"i": e.data["item_id"], "u": username}
        if e.type == "Subscriptions.ItemFollowed":
            cur.execute(
                f"INSERT INTO {self._t(FOLLOWERS)} (item_id, username, kind, followed_at)"
                " VALUES (:i, :u, :k, :at) ON CONFLICT DO NOTHING",
                {**item, "k": e.data["kind"], "at": e.occurred_at},
            )
        else:
            cur.execute(
                f"DELETE FROM {self._t(FOLLOWERS)} WHERE item_id = :i AND username = :u", item
            )

    def _fold(self, cur: Cursor, e: LoggedEvent) -> None:
        """Keep the few facts about requests, bundles and changes that routing needs."""
        d = e.data
        if e.topic == c.REQUEST_SUBMITTED.topic:
            cur.execute(
                f"INSERT INTO {self._t(REQUESTS)} (id, title, department, number)"
                f" VALUES (:id, :t, :d, {next_number(self._t(REQUESTS))})",
                {"id": e.aggregate_id, "t": d["title"], "d": d["department"]},
            )
        elif e.topic == c.REQUEST_EDITED.topic:
            cur.execute(
                f"UPDATE {self._t(REQUESTS)} SET title = :t WHERE id = :id",
                {"t": d["title"], "id": e.aggregate_id},
            )
        elif e.topic in (c.REQUEST_ACCEPTED.topic, c.REQUEST_OWNER_ASSIGNED.topic):
            cur.execute(
                f"UPDATE {self._t(REQUESTS)} SET owner = :o WHERE id = :id",
                {"o": d["owner"], "id": e.aggregate_id},
            )
        elif e.topic == c.BUNDLE_PLANNED.topic:
            cur.execute(
                f"INSERT INTO {self._t(BUNDLES)} (id, name, deploy_date, request_ids)"
                " VALUES (:id, :n, :dd, '[]')",
                {"id": e.aggregate_id, "n": d["name"], "dd": d["deploy_date"]},
            )
        elif e.topic == c.BUNDLE_MOVED.topic:
            cur.execute(
                f"UPDATE {self._t(BUNDLES)} SET deploy_date = :dd WHERE id = :id",
                {"dd": d["deploy_date"], "id": e.aggregate_id},
            )
        elif e.topic in (c.REQUEST_SCHEDULED.topic, c.REQUEST_UNSCHEDULED.topic):
            self._fold_scope(cur, e)
        elif e.topic == c.CHANGE_RAISED.topic:
            cur.execute(
                f"INSERT INTO {self._t(CHANGES)} (id, title, change_type, requester,"
                " implementers, bundle_id, subsystems, window_start, window_end, open, number)"
                f" VALUES (:id, :t, :ct, :r, :i, :b, :s, :ws, :we, 1,"
                f" {next_number(self._t(CHANGES))})",
                {
                    "id": e.aggregate_id,
                    "t": d["title"],
                    "ct": d["change_type"],
                    "r": d["requester"],
                    "i": orjson.dumps(d["implementers"]).decode(),
                    "b": d.get("bundle_id"),
                    "s": pack(d["subsystems"]),
                    "ws": d.get("window_start"),
                    "we": d.get("window_end"),
                },
            )
        elif e.topic == c.CHANGE_REVISED.topic:
            # A revision may rename the change and hand it to other implementers: later
            # messages name it as it is now, and tell the people who carry it out now.
            cur.execute(
                f"UPDATE {self._t(CHANGES)} SET title = :t, implementers = :i, subsystems = :s,"
                " window_start = :ws, window_end = :we WHERE id = :id",
                {
                    "t": d["title"],
                    "i": orjson.dumps(d["implementers"]).decode(),
                    "s": pack(d["subsystems"]),
                    "ws": d.get("window_start"),
                    "we": d.get("window_end"),
                    "id": e.aggregate_id,
                },
            )
        elif e.topic in (c.REQUEST_COMMENTED.topic, c.CHANGE_COMMENTED.topic):
            cur.execute(
                f"INSERT INTO {self._t(PARTICIPANTS)} (item_id, username) VALUES (:i, :u)"
                " ON CONFLICT DO NOTHING",
                {"i": e.aggregate_id, "u": e.actor},
            )
        elif e.topic in CHANGE_CLOSING:
            cur.execute(
                f"UPDATE {self._t(CHANGES)} SET open = 0 WHERE id = :id", {"id": e.aggregate_id}
            )

    def _fold_scope(self, cur: Cursor, e: LoggedEvent) -> None:
        request_id = e.data["request_id"]
        scheduled = e.topic == c.REQUEST_SCHEDULED.topic
        ids = orjson.loads(
            cur.scalar(
                f"SELECT request_ids FROM {self._t(BUNDLES)} WHERE id = :id", {"id": e.aggregate_id}
            )
            or "[]"
        )
        ids = [i for i in ids if i != request_id] + ([request_id] if scheduled else [])
        cur.execute(
            f"UPDATE {self._t(BUNDLES)} SET request_ids = :ids WHERE id = :id",
            {"ids": orjson.dumps(ids).decode(), "id": e.aggregate_id},
        )
        cur.execute(
            f"UPDATE {self._t(REQUESTS)} SET bundle_id = :b WHERE id = :id",
            {"b": e.aggregate_id if scheduled else None, "id": request_id},
        )
