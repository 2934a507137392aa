"""Read models of release's own facts: trains, bundles with their scope and progress,
each bundle's history and scope churn, and calendar feed secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.release.domain import ReleaseBundle
from services.release.facts import pack
from services.release.feeds import CalendarFeed
from services.release.trains import ReleaseTrain
from shared.store.log import LoggedEvent
from shared.store.projections import Handler, Projection, event_topic
from shared.store.sql import Cursor
from shared.words import Wording, count, opt

TRAINS, BUNDLES, ITEMS = "release_trains", "release_bundles", "release_bundle_items"
HISTORY, SCOPE, FEEDS = "release_bundle_history", "release_scope_changes", "release_calendar_feeds"

BUNDLE_EVENTS = (
    "Planned", "Moved", "Cancelled", "CapacityChanged", "RequestScheduled",
    "RequestUnscheduled", "ScopeFrozen", "ItemProgressed", "QASignedOff",
    "ApprovedForDeployment", "DeploymentApprovalWithdrawn", "Deployed", "RolledBack",
)  # fmt: skip
DATES = ("deploy_date", "window_start", "window_end", "scope_freeze_at", "code_complete_at",
         "qa_start_at")  # fmt: skip


PROGRESS_WORDS = {
    "scheduled": "is scheduled",
    "in_development": "is in development",
    "ready_for_qa": "is ready for QA",
    "qa_passed": "passed QA",
    "qa_failed": "failed QA",
}

summary = Wording(
    {
        "ReleaseBundle.Planned": lambda d: (
            f"planned to deploy on {d['deploy_date']}"
            f" with {d['capacity_points']} points of capacity"
        ),
        "ReleaseBundle.Moved": lambda d: (
            f"moved from {d.get('previous_deploy_date')} to {d['deploy_date']}: {d['reason']}"
        ),
        "ReleaseBundle.Cancelled": lambda d: f"cancelled: {d['reason']}",
        "ReleaseBundle.CapacityChanged": lambda d: (
            f"changed the capacity to {d['capacity_points']} points" + opt(": ", d.get("reason"))
        ),
        "ReleaseBundle.RequestScheduled": lambda d: (
            ("exception after the freeze: " if d["after_freeze"] else "")
            + f"scheduled {d['request_id']} ({count(d['size_points'], 'point')})"
            + (" over capacity" if d.get("over_capacity") else "")
            + opt(": ", d.get("reason"))
        ),
        "ReleaseBundle.RequestUnscheduled": lambda d: (
            ("exception after the freeze: " if d["after_freeze"] else "")
            + ("pulled " if d.get("pulled") else "removed ")
            + d["request_id"]
            + opt(": ", d.get("reason"))
        ),
        "ReleaseBundle.ScopeFrozen": lambda d: "froze the scope" + opt(": ", d.get("note")),
        "ReleaseBundle.ItemProgressed": lambda d: (
            f"{d['request_id']} {PROGRESS_WORDS.get(d['stage'], 'is ' + d['stage'])}"
            + opt(": ", d.get("note"))
        ),
        "ReleaseBundle.QASignedOff": lambda d: (
            f"QA signed off {count(len(d['request_ids']), 'item')}" + opt(": ", d.get("note"))
        ),
        "ReleaseBundle.ApprovedForDeployment": lambda d: (
            f"approved for deployment under change {d['change_id']}"
        ),
        "ReleaseBundle.DeploymentApprovalWithdrawn": lambda d: (
            f"no longer approved for deployment: {d['reason']}"
        ),
        "ReleaseBundle.Deployed": lambda d: (
            f"deployed {count(len(d['request_ids']), 'request')} under change {d['change_id']}"
        ),
        "ReleaseBundle.RolledBack": lambda d: (
            f"deployment {d.get('outcome', 'rolled_back')} under change {d['change_id']}"
            + opt(": ", d.get("reason"))
        ),
    }
)
"""A bundle's event as one line of its history."""


class BundlesProjection(Projection):
    """Trains and bundles: dates, capacity, phase, scope, progress, history and churn."""

    # v2: history lines say what the person did ("rm froze the scope", not "rm scope
    # frozen"); the stored lines are written afresh.
    name = "release.bundles.v2"
    tables = (TRAINS, BUNDLES, ITEMS, HISTORY, SCOPE)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(TRAINS)} ("
            " id TEXT PRIMARY KEY, name TEXT NOT NULL, cadence TEXT NOT NULL,"
            " milestones TEXT NOT NULL, capacity_points INTEGER NOT NULL,"
            " subsystem_capacity TEXT NOT NULL, timezone TEXT NOT NULL,"
            " defined_at TEXT NOT NULL, defined_by TEXT NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(BUNDLES)} ("
            " id TEXT PRIMARY KEY, train_id TEXT NOT NULL, name TEXT NOT NULL,"
            " slot_date TEXT NOT NULL, deploy_date TEXT NOT NULL, window_start TEXT NOT NULL,"
            " window_end TEXT NOT NULL, scope_freeze_at TEXT NOT NULL,"
            " code_complete_at TEXT NOT NULL, qa_start_at TEXT NOT NULL,"
            " capacity_points INTEGER NOT NULL, subsystem_capacity TEXT NOT NULL,"
            " phase TEXT NOT NULL, frozen_at TEXT, frozen_by TEXT, signed_off_at TEXT,"
            " signed_off_by TEXT, change_id TEXT, approved_at TEXT, deployed_at TEXT,"
            " rolled_back_at TEXT, cancelled_at TEXT, closing_reason TEXT,"
            " moves INTEGER NOT NULL, planned_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
            " version INTEGER NOT NULL)"
        )
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {BUNDLES}_deploy ON {self.t(BUNDLES)} (deploy_date)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(ITEMS)} ("
            " bundle_id TEXT NOT NULL, request_id TEXT NOT NULL, position BIGINT NOT NULL,"
            " size_points INTEGER NOT NULL, subsystems TEXT NOT NULL, stage TEXT NOT NULL,"
            " after_freeze INTEGER NOT NULL, over_capacity INTEGER NOT NULL,"
            " reason TEXT NOT NULL, scheduled_at TEXT NOT NULL, scheduled_by TEXT NOT NULL,"
            " stage_at TEXT, stage_by TEXT, stage_note TEXT,"
            " PRIMARY KEY (bundle_id, request_id))"
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {ITEMS}_request ON {self.t(ITEMS)} (request_id)")
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(HISTORY)} ("
            " bundle_id TEXT NOT NULL, position BIGINT NOT NULL, version INTEGER NOT NULL,"
            " type TEXT NOT NULL, actor TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " summary TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (bundle_id, position))"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(SCOPE)} ("
            " bundle_id TEXT NOT NULL, position BIGINT NOT NULL, request_id TEXT NOT NULL,"
            " kind TEXT NOT NULL, after_freeze INTEGER NOT NULL, pulled INTEGER NOT NULL,"
            " reason TEXT NOT NULL, actor TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " PRIMARY KEY (bundle_id, position))"
        )

    def handlers(self) -> Mapping[str, Handler]:
        handlers: dict[str, Handler] = {event_topic(ReleaseTrain, "Defined"): self._train}
        for name in BUNDLE_EVENTS:
            handlers[event_topic(ReleaseBundle, name)] = self._bundle
        return handlers

    def _train(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(TRAINS)} (id, name, cadence, milestones, capacity_points,"
            " subsystem_capacity, timezone, defined_at, defined_by) VALUES (:id, :name,"
            " :cadence, :milestones, :capacity, :subsystems, :tz, :at, :by)",
            {
                "id": e.aggregate_id,
                "name": d["name"],
                "cadence": _json(d["cadence"]),
                "milestones": _json(d["milestones"]),
                "capacity": d["capacity_points"],
                "subsystems": _json(d["subsystem_capacity"]),
                "tz": d["timezone"],
                "at": e.occurred_at,
                "by": e.actor,
            },
        )

    def _bundle(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        if e.type == "ReleaseBundle.Planned":
            cur.execute(
                f"INSERT INTO {self.t(BUNDLES)} (id, train_id, name, slot_date, deploy_date,"
                " window_start, window_end, scope_freeze_at, code_complete_at, qa_start_at,"
                " capacity_points, subsystem_capacity, phase, moves, planned_at, updated_at,"
                " version) VALUES (:id, :train_id, :name, :slot_date, :deploy_date,"
                " :window_start, :window_end, :scope_freeze_at, :code_complete_at,"
                " :qa_start_at, :capacity, :subsystems, 'planning', 0, :at, :at, :v)",
                {
                    "id": e.aggregate_id,
                    **{k: d[k] for k in ("train_id", "name", *DATES)},
                    # The slot is release's own detail, not in the contract: a bundle
                    # planned by contract fields alone is slotted on its deploy date.
                    "slot_date": d.get("slot_date") or d["deploy_date"],
                    "capacity": d["capacity_points"],
                    "subsystems": _json(d["subsystem_capacity"]),
                    "at": e.occurred_at,
                    "v": e.version,
                },
            )
        else:
            values = self._bundle_changes(cur, e)
            values.update(updated_at=e.occurred_at, version=e.version)
            assignments = ", ".join(f"{k} = :{k}" for k in values)
            if e.type == "ReleaseBundle.Moved":
                assignments += ", moves = moves + 1"
            cur.execute(
                f"UPDATE {self.t(BUNDLES)} SET {assignments} WHERE id = :id",
                {**values, "id": e.aggregate_id},
            )
        self._history(cur, e)

    def _bundle_changes(self, cur: Cursor, e: LoggedEvent) -> dict[str, Any]:
        """Apply the event to the bundle's items; return the bundle columns it changes."""
        d, at, by = e.data, e.occurred_at, e.actor
        values: dict[str, Any] = {}
        match e.type:
            case "ReleaseBundle.Moved":
                values = {k: d[k] for k in DATES}
            case "ReleaseBundle.Cancelled":
                values = {"phase": "cancelled", "cancelled_at": at, "closing_reason": d["reason"]}
            case "ReleaseBundle.CapacityChanged":
                values = {
                    "capacity_points": d["capacity_points"],
                    "subsystem_capacity": _json(d["subsystem_capacity"]),
                }
            case "ReleaseBundle.ScopeFrozen":
                values = {"frozen_at": at, "frozen_by": by}
            case "ReleaseBundle.QASignedOff":
                values = {"phase": "qa_signed_off", "signed_off_at": at, "signed_off_by": by}
            case "ReleaseBundle.ApprovedForDeployment":
                values = {"phase": "approved_for_deployment", "change_id": d["change_id"]}
                values["approved_at"] = at
            case "ReleaseBundle.DeploymentApprovalWithdrawn":
                values = {"phase": "qa_signed_off", "change_id": None, "approved_at": None}
            case "ReleaseBundle.Deployed":
                values = {"phase": "deployed", "change_id": d["change_id"], "deployed_at": at}

            case "ReleaseBundle.RolledBack":
                values = {"phase": "rolled_back", "rolled_back_at": at}
                values["closing_reason"] = d.get("reason") or None
            case "ReleaseBundle.RequestScheduled":
                self._scheduled(cur, e)
            case "ReleaseBundle.RequestUnscheduled":
                self._unscheduled(cur, e)
            case "ReleaseBundle.ItemProgressed":
                self._progressed(cur, e)
        return values

    def _progressed(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"UPDATE {self.t(ITEMS)} SET stage = :stage, stage_at = :at, stage_by = :by,"
            " stage_note = :note WHERE bundle_id = :b AND request_id = :r",
            {
                "stage": e.data["stage"],
                "at": e.occurred_at,
                "by": e.actor,
                "note": e.data.get("note") or None,
                "b": e.aggregate_id,
                "r": e.data["request_id"],
            },
        )

    def _scheduled(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(ITEMS)} (bundle_id, request_id, position, size_points,"
            " subsystems, stage, after_freeze, over_capacity, reason, scheduled_at,"
            " scheduled_by) VALUES (:b, :r, :pos, :size, :subsystems, 'scheduled', :af, :oc,"
            " :reason, :at, :by)",
            {
                "b": e.aggregate_id,
                "r": d["request_id"],
                "pos": e.position,
                "size": d["size_points"],
                "subsystems": pack(d.get("subsystems", [])),
                "af": int(d["after_freeze"]),
                "oc": int(bool(d.get("over_capacity"))),
                "reason": d.get("reason") or "",
                "at": e.occurred_at,
                "by": e.actor,
            },
        )
        self._scope_change(cur, e, "added")

    def _unscheduled(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"DELETE FROM {self.t(ITEMS)} WHERE bundle_id = :b AND request_id = :r",
            {"b": e.aggregate_id, "r": e.data["request_id"]},
        )
        self._scope_change(cur, e, "removed")

    def _scope_change(self, cur: Cursor, e: LoggedEvent, change: str) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(SCOPE)} (bundle_id, position, request_id, kind,"
            " after_freeze, pulled, reason, actor, occurred_at) VALUES (:b, :pos, :r, :kind,"
            " :af, :pulled, :reason, :actor, :at)",
            {
                "b": e.aggregate_id,
                "pos": e.position,
                "r": d["request_id"],
                "kind": change,
                "af": int(d["after_freeze"]),
                "pulled": int(bool(d.get("pulled"))),
                "reason": d.get("reason") or "",
                "actor": e.actor,
                "at": e.occurred_at,
            },
        )

    def _history(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"INSERT INTO {self.t(HISTORY)} (bundle_id, position, version, type, actor,"
            " occurred_at, summary, data) VALUES (:b, :pos, :v, :type, :actor, :at, :s, :d)",
            {
                "b": e.aggregate_id,
                "pos": e.position,
                "v": e.version,
                "type": e.type,
                "actor": e.actor,
                "at": e.occurred_at,
                "s": summary(e.type, e.data),
                "d": _json(e.data),
            },
        )


class FeedsProjection(Projection):
    """Calendar feed secrets (hashes only) and whether each is still valid."""

    name = "release.calendar_feeds.v1"
    tables = (FEEDS,)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(FEEDS)} ("
            " feed_id TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
            " label TEXT NOT NULL, secret_hash TEXT NOT NULL, issued_at TEXT NOT NULL,"
            " revoked_at TEXT)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            event_topic(CalendarFeed, "Issued"): self._issued,
            event_topic(CalendarFeed, "Revoked"): self._revoked,
        }

    def _issued(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(FEEDS)} (feed_id, aggregate_id, owner, label, secret_hash,"
            " issued_at) VALUES (:id, :a, :owner, :label, :hash, :at)",
            {
                "id": d["feed_id"],
                "a": e.aggregate_id,
                "owner": d["owner"],
                "label": d["label"],
                "hash": d["secret_hash"],
                "at": e.occurred_at,
            },
        )

    def _revoked(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"UPDATE {self.t(FEEDS)} SET revoked_at = :at WHERE aggregate_id = :a",
            {"at": e.occurred_at, "a": e.aggregate_id},
        )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
