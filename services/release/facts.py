"""What release knows of other services, folded from their published events.

Release never imports intake or change control: it follows their facts in the log by
the topics in `shared.contracts` and reads only the fields listed there. These tables
answer "is this request accepted, how big is it, where does its department rank it",
"which bundle does this production change deploy" and "what is that change called".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from shared import contracts as c
from shared.store.log import LoggedEvent
from shared.store.numbers import next_number
from shared.store.projections import Handler, Projection
from shared.store.sql import Cursor

REQUESTS, RANKINGS = "release_request_facts", "release_ranking_facts"
CHANGES = "release_change_facts"
RETIRED_REQUESTS = ("release_requests", "release_rankings")
"""Earlier tables of what `RequestFactsProjection` keeps now (without the requests' numbers),
dropped where they linger."""
RETIRED = ("release_changes", "release_raised_changes", "release_change_titles")
"""Earlier tables of what `ChangeFactsProjection` keeps now, dropped where they linger."""

STATUS_AFTER = {
    c.REQUEST_INFO_REQUESTED.topic: "info_requested",
    c.REQUEST_INFO_PROVIDED.topic: "submitted",
    c.REQUEST_ACCEPTED.topic: "accepted",
    c.REQUEST_REJECTED.topic: "rejected",
    c.REQUEST_DEFERRED.topic: "deferred",
    c.REQUEST_DUPLICATE.topic: "duplicate",
    c.REQUEST_WITHDRAWN.topic: "withdrawn",
    c.REQUEST_DELIVERED.topic: "delivered",
}
PLAN_FIELDS = ("size_points", "class_of_service", "fixed_date")


def pack(values: Sequence[str]) -> str:
    return "|" + "|".join(values) + "|"


def unpack(packed: str | None) -> list[str]:
    return [v for v in (packed or "").split("|") if v]


class RequestFactsProjection(Projection):
    """Change requests and department rankings, as intake published them; each request
    numbered as intake numbers it, the n-th REQUEST_SUBMITTED of the log (REQ-n)."""

    name = "release.requests.v2"
    tables = (REQUESTS, RANKINGS)

    def create(self, cur: Cursor) -> None:
        for retired in RETIRED_REQUESTS:
            cur.execute(f"DROP TABLE IF EXISTS {self.t(retired)}")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(REQUESTS)} ("
            " id TEXT PRIMARY KEY, title TEXT NOT NULL, department TEXT NOT NULL,"
            " sponsor TEXT NOT NULL, category TEXT NOT NULL, subsystems TEXT NOT NULL,"
            " requester TEXT NOT NULL, status TEXT NOT NULL, owner TEXT, size_points INTEGER,"
            " class_of_service TEXT, fixed_date TEXT, submitted_at TEXT NOT NULL,"
            " accepted_at TEXT, delivered_at TEXT, updated_at TEXT NOT NULL,"
            " number INTEGER NOT NULL UNIQUE)"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {REQUESTS}_status ON {self.t(REQUESTS)} (status)")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(RANKINGS)} ("
            " aggregate_id TEXT PRIMARY KEY, department_key TEXT NOT NULL,"
            " department TEXT NOT NULL, request_ids TEXT NOT NULL)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        handlers: dict[str, Handler] = {
            c.REQUEST_SUBMITTED.topic: self._submitted,
            c.REQUEST_EDITED.topic: self._edited,
            c.REQUEST_ACCEPTED.topic: self._planned,
            c.REQUEST_REPLANNED.topic: self._planned,
            c.REQUEST_OWNER_ASSIGNED.topic: self._owner,
            c.RANKING_STARTED.topic: self._ranking_started,
            c.RANKING_REORDERED.topic: self._reordered,
        }
        for topic in STATUS_AFTER:
            handlers.setdefault(topic, self._status)
        return handlers

    def _update(self, cur: Cursor, e: LoggedEvent, values: dict[str, Any]) -> None:
        values = {**values, "updated_at": e.occurred_at}
        assignments = ", ".join(f"{k} = :{k}" for k in values)
        cur.execute(
            f"UPDATE {self.t(REQUESTS)} SET {assignments} WHERE id = :id",
            {**values, "id": e.aggregate_id},
        )

    def _submitted(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(REQUESTS)} (id, title, department, sponsor, category,"
            " subsystems, requester, status, submitted_at, updated_at, number) VALUES (:id,"
            " :title, :department, :sponsor, :category, :subsystems, :requester, 'submitted',"
            f" :at, :at, {next_number(self.t(REQUESTS))})",
            {
                "id": e.aggregate_id,
                "title": d["title"],
                "department": d["department"],
                "sponsor": d["sponsor"],
                "category": d["category"],
                "subsystems": pack(d["subsystems"]),
                "requester": d["requester"],
                "at": e.occurred_at,
            },
        )

    def _edited(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        self._update(
            cur,
            e,
            {
                "title": d["title"],
                "sponsor": d["sponsor"],
                "category": d["category"],
                "subsystems": pack(d["subsystems"]),
            },
        )

    def _planned(self, cur: Cursor, e: LoggedEvent) -> None:
        values: dict[str, Any] = {k: e.data.get(k) for k in PLAN_FIELDS}
        if e.topic == c.REQUEST_ACCEPTED.topic:
            values.update(status="accepted", owner=e.data["owner"], accepted_at=e.occurred_at)
        self._update(cur, e, values)

    def _owner(self, cur: Cursor, e: LoggedEvent) -> None:
        self._update(cur, e, {"owner": e.data["owner"]})

    def _status(self, cur: Cursor, e: LoggedEvent) -> None:
        values: dict[str, Any] = {"status": STATUS_AFTER[e.topic]}
        if e.topic == c.REQUEST_DELIVERED.topic:
            values["delivered_at"] = e.occurred_at
        self._update(cur, e, values)

    def _ranking_started(self, cur: Cursor, e: LoggedEvent) -> None:
        department = e.data["department"]
        cur.execute(
            f"INSERT INTO {self.t(RANKINGS)} (aggregate_id, department_key, department,"
            " request_ids) VALUES (:a, :k, :d, '[]')",
            {"a": e.aggregate_id, "k": department.casefold(), "d": department},
        )

    def _reordered(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"UPDATE {self.t(RANKINGS)} SET request_ids = :ids WHERE aggregate_id = :a",
            {"ids": orjson.dumps(e.data["order"]).decode(), "a": e.aggregate_id},
        )


class ChangeFactsProjection(Projection):
    """Each production change release hears of (change control's CHANGE_RAISED): its type,
    title and bundle, and whether it is still open (not withdrawn, rejected or
    completed). Release follows the deployment of its bundles by it; a bundle's page names
    the change that deploys it, and offers to raise one only while none is open."""

    name = "release.change_facts.v1"
    tables = (CHANGES,)

    def create(self, cur: Cursor) -> None:
        for retired in RETIRED:
            cur.execute(f"DROP TABLE IF EXISTS {self.t(retired)}")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(CHANGES)} ("
            " change_id TEXT PRIMARY KEY, change_type TEXT NOT NULL, title TEXT NOT NULL,"
            " bundle_id TEXT, open INTEGER NOT NULL)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            c.CHANGE_RAISED.topic: self._raised,
            **dict.fromkeys(
                (c.CHANGE_WITHDRAWN.topic, c.CHANGE_REJECTED.topic, c.CHANGE_COMPLETED.topic),
                self._ended,
            ),
        }

    def _raised(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"INSERT INTO {self.t(CHANGES)} (change_id, change_type, title, bundle_id, open)"
            " VALUES (:id, :type, :title, :bundle, 1) ON CONFLICT (change_id) DO NOTHING",
            {
                "id": e.aggregate_id,
                "type": e.data["change_type"],
                "title": e.data["title"],
                "bundle": e.data.get("bundle_id"),
            },
        )

    def _ended(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"UPDATE {self.t(CHANGES)} SET open = 0 WHERE change_id = :id",
            {"id": e.aggregate_id},
        )


def department_order(explicit: Sequence[str], eligible: Sequence[str]) -> list[str]:
    """A department's ranking as intake defines it: its explicit order of requests still
    eligible, then the eligible ones it has not ranked, in order of acceptance."""
    eligible_set = set(eligible)
    ordered = [i for i in explicit if i in eligible_set]
    seen = set(ordered)
    return ordered + [i for i in eligible if i not in seen]
