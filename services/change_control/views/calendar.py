"""Change windows and blackouts, and what they collide with, kept current as facts land.

Conflicts and blackout overlaps are re-evaluated whenever a change is raised, revised or
leaves the active states, and whenever a blackout is declared, changed or lifted, so the
CAB queue and the calendar never wait for someone to ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.change_control.domain import ProductionChange, Status
from services.change_control.domain.catalogue import BlackoutWindow
from services.change_control.views.changes import STATUS_AFTER, pack, unpack
from shared.store.log import LoggedEvent
from shared.store.projections import Handler, Projection, event_topic
from shared.store.sql import Cursor

WINDOWS, BLACKOUTS = "change_control_windows", "change_control_blackouts"
CONFLICTS, HITS = "change_control_conflicts", "change_control_blackout_hits"
# Changes that may still be implemented take part in conflicts and blackout checks.
ACTIVE = (Status.IN_REVIEW.value, Status.APPROVED.value, Status.IMPLEMENTING.value)
# The only events that change the blackouts' rows.
BLACKOUT_TOPICS = frozenset(
    event_topic(BlackoutWindow, name) for name in ("Declared", "Changed", "Lifted")
)


def shared_subsystems(a: str, b: str) -> list[str]:
    theirs = {s.casefold() for s in unpack(b)}
    return [s for s in unpack(a) if s.casefold() in theirs]


class CalendarProjection(Projection):
    name = "change_control.calendar.v1"
    tables = (WINDOWS, BLACKOUTS, CONFLICTS, HITS)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(WINDOWS)} ("
            " change_id TEXT PRIMARY KEY, title TEXT NOT NULL, change_type TEXT NOT NULL,"
            " status TEXT NOT NULL, risk TEXT NOT NULL, window_start TEXT, window_end TEXT,"
            " subsystems TEXT NOT NULL, active INTEGER NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(BLACKOUTS)} ("
            " id TEXT PRIMARY KEY, name TEXT NOT NULL, window_start TEXT NOT NULL,"
            " window_end TEXT NOT NULL, subsystems TEXT NOT NULL, reason TEXT NOT NULL,"
            " lifted INTEGER NOT NULL, declared_by TEXT NOT NULL, declared_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL, version INTEGER NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(CONFLICTS)} ("
            " change_id TEXT NOT NULL, other_id TEXT NOT NULL, subsystem TEXT NOT NULL,"
            " PRIMARY KEY (change_id, other_id, subsystem))"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(HITS)} ("
            " change_id TEXT NOT NULL, blackout_id TEXT NOT NULL,"
            " PRIMARY KEY (change_id, blackout_id))"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {HITS}_blackout ON {self.t(HITS)} (blackout_id)")
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {CONFLICTS}_other ON {self.t(CONFLICTS)} (other_id)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        handlers: dict[str, Handler] = {
            event_topic(ProductionChange, name.partition(".")[2]): self._status
            for name in STATUS_AFTER
        }
        handlers[event_topic(ProductionChange, "Raised")] = self._planned
        handlers[event_topic(ProductionChange, "Revised")] = self._planned
        for topic in BLACKOUT_TOPICS:
            handlers[topic] = self._blackout
        return handlers

    # -- changes -------------------------------------------------------------------------

    def _planned(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        row = {
            "id": e.aggregate_id,
            "title": d.get("title", ""),  # (not in the Revised contract)
            "type": d.get("change_type"),
            "status": Status.IN_REVIEW.value,
            "risk": d["risk"],
            "start": d["window_start"],
            "end": d["window_end"],
            "subsystems": pack(d["subsystems"]),
        }
        if e.type == "ProductionChange.Raised":
            cur.execute(
                f"INSERT INTO {self.t(WINDOWS)} (change_id, title, change_type, status, risk,"
                " window_start, window_end, subsystems, active) VALUES (:id, :title, :type,"
                " :status, :risk, :start, :end, :subsystems, 1)",
                row,
            )
        else:
            cur.execute(
                f"UPDATE {self.t(WINDOWS)} SET title = COALESCE(NULLIF(:title, ''), title),"
                " status = :status, risk = :risk, window_start = :start, window_end = :end,"
                " subsystems = :subsystems, active = 1 WHERE change_id = :id",
                row,
            )
        self._reevaluate_change(cur, e.aggregate_id)

    def _status(self, cur: Cursor, e: LoggedEvent) -> None:
        status = STATUS_AFTER[e.type].value
        active = int(status in ACTIVE)
        was = cur.scalar(
            f"SELECT active FROM {self.t(WINDOWS)} WHERE change_id = :id", {"id": e.aggregate_id}
        )
        cur.execute(
            f"UPDATE {self.t(WINDOWS)} SET status = :status, active = :active"
            " WHERE change_id = :id",
            {"status": status, "active": active, "id": e.aggregate_id},
        )
        if was is not None and int(was) != active:
            self._reevaluate_change(cur, e.aggregate_id)

    def _reevaluate_change(self, cur: Cursor, change_id: str) -> None:
        cur.execute(
            f"DELETE FROM {self.t(CONFLICTS)} WHERE change_id = :id OR other_id = :id",
            {"id": change_id},
        )
        cur.execute(f"DELETE FROM {self.t(HITS)} WHERE change_id = :id", {"id": change_id})
        cur.execute(f"SELECT * FROM {self.t(WINDOWS)} WHERE change_id = :id", {"id": change_id})
        me = cur.fetchone()
        if me is None or not me["active"] or me["window_start"] is None:
            return
        window = {"start": me["window_start"], "end": me["window_end"]}
        cur.execute(
            f"SELECT change_id, subsystems FROM {self.t(WINDOWS)} WHERE active = 1"
            " AND change_id <> :id AND window_start < :end AND window_end > :start",
            {**window, "id": change_id},
        )
        rows: list[dict[str, Any]] = []
        for other in cur.fetchall():
            for subsystem in shared_subsystems(me["subsystems"], other["subsystems"]):
                rows.append({"a": change_id, "b": other["change_id"], "s": subsystem})
                rows.append({"a": other["change_id"], "b": change_id, "s": subsystem})
        if rows:
            cur.executemany(
                f"INSERT INTO {self.t(CONFLICTS)} (change_id, other_id, subsystem)"
                " VALUES (:a, :b, :s)",
                rows,
            )
        cur.execute(
            f"SELECT id, subsystems FROM {self.t(BLACKOUTS)} WHERE lifted = 0"
            " AND window_start < :end AND window_end > :start",
            window,
        )
        hits = [
            {"c": change_id, "b": b["id"]}
            for b in cur.fetchall()
            if not b["subsystems"] or shared_subsystems(me["subsystems"], b["subsystems"])
        ]
        if hits:
            cur.executemany(
                f"INSERT INTO {self.t(HITS)} (change_id, blackout_id) VALUES (:c, :b)", hits
            )

    # -- blackouts -----------------------------------------------------------------------

    def _blackout(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        if e.type == "BlackoutWindow.Declared":
            cur.execute(
                f"INSERT INTO {self.t(BLACKOUTS)} (id, name, window_start, window_end,"
                " subsystems, reason, lifted, declared_by, declared_at, updated_at, version)"
                " VALUES (:id, :name, :start, :end, :subsystems, :reason, 0, :by, :at, :at, :v)",
                {**self._blackout_row(e), "by": e.actor, "at": e.occurred_at},
            )
        elif e.type == "BlackoutWindow.Changed":
            cur.execute(
                f"UPDATE {self.t(BLACKOUTS)} SET name = :name, window_start = :start,"
                " window_end = :end, subsystems = :subsystems, reason = :reason,"
                " updated_at = :at, version = :v WHERE id = :id",
                {**self._blackout_row(e), "at": e.occurred_at},
            )
        else:
            cur.execute(
                f"UPDATE {self.t(BLACKOUTS)} SET lifted = 1, reason = :reason,"
                " updated_at = :at, version = :v WHERE id = :id",
                {"id": e.aggregate_id, "reason": d["reason"], "at": e.occurred_at, "v": e.version},
            )
        self._reevaluate_blackout(cur, e.aggregate_id)

    @staticmethod
    def _blackout_row(e: LoggedEvent) -> dict[str, Any]:
        d = e.data
        return {
            "id": e.aggregate_id,
            "name": d["name"],
            "start": d["start"],
            "end": d["end"],
            "subsystems": pack(d["subsystems"]),
            "reason": d["reason"],
            "v": e.version,
        }

    def _reevaluate_blackout(self, cur: Cursor, blackout_id: str) -> None:
        cur.execute(f"DELETE FROM {self.t(HITS)} WHERE blackout_id = :id", {"id": blackout_id})
        cur.execute(f"SELECT * FROM {self.t(BLACKOUTS)} WHERE id = :id", {"id": blackout_id})
        blackout = cur.fetchone()
        if blackout is None or blackout["lifted"]:
            return
        cur.execute(
            f"SELECT change_id, subsystems FROM {self.t(WINDOWS)} WHERE active = 1"
            " AND window_start < :end AND window_end > :start",
            {"start": blackout["window_start"], "end": blackout["window_end"]},
        )
        hits = [
            {"c": row["change_id"], "b": blackout_id}
            for row in cur.fetchall()
            if not blackout["subsystems"]
            or shared_subsystems(row["subsystems"], blackout["subsystems"])
        ]
        if hits:
            cur.executemany(
                f"INSERT INTO {self.t(HITS)} (change_id, blackout_id) VALUES (:c, :b)", hits
            )
