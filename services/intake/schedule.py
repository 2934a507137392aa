"""Where each request stands in release planning, as intake's pages show it: its bundle,
the bundle's deployment date, and the item's stage; and the steps of its planning (its
scheduling, its bundle moved, its progress), for the request's history.

Folded from the release service's published facts (`shared.contracts`), by topic and
contract fields only: intake never imports release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import contracts as c
from shared.store.log import EventLog, LoggedEvent
from shared.store.projections import Handler, Projection, ProjectionGroup
from shared.store.sql import Cursor
from shared.words import opt, words

PLACEMENTS, BUNDLES, STEPS = "intake_placements", "intake_bundles", "intake_plan_steps"


@dataclass(frozen=True)
class Placement:
    """A request's place in a release bundle."""

    request_id: str
    bundle_id: str
    bundle_name: str
    deploy_date: str | None
    bundle_status: str
    stage: str
    after_freeze: bool


class ScheduleProjection(Projection):
    name = "intake.schedule.v2"  # v2: the planning steps of each request
    tables = (PLACEMENTS, BUNDLES, STEPS)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(BUNDLES)} ("
            " bundle_id TEXT PRIMARY KEY, name TEXT NOT NULL, deploy_date TEXT,"
            " status TEXT NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(PLACEMENTS)} ("
            " request_id TEXT PRIMARY KEY, bundle_id TEXT NOT NULL, stage TEXT NOT NULL,"
            " after_freeze INTEGER NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(STEPS)} ("
            " request_id TEXT NOT NULL, position BIGINT NOT NULL, occurred_at TEXT NOT NULL,"
            " actor TEXT NOT NULL, type TEXT NOT NULL, summary TEXT NOT NULL,"
            " PRIMARY KEY (request_id, position))"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            c.BUNDLE_PLANNED.topic: self._planned,
            c.BUNDLE_MOVED.topic: self._moved,
            c.BUNDLE_CANCELLED.topic: self._bundle_status("cancelled", release_items=True),
            c.SCOPE_FROZEN.topic: self._bundle_status("frozen"),
            c.BUNDLE_DEPLOYED.topic: self._deployed,
            c.BUNDLE_ROLLED_BACK.topic: self._bundle_status("rolled_back"),
            c.REQUEST_SCHEDULED.topic: self._scheduled,
            c.REQUEST_UNSCHEDULED.topic: self._unscheduled,
            c.ITEM_PROGRESSED.topic: self._progressed,
            c.QA_SIGNED_OFF.topic: self._signed_off,
        }

    def _planned(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"INSERT INTO {self.t(BUNDLES)} (bundle_id, name, deploy_date, status)"
            " VALUES (:id, :name, :day, 'planned') ON CONFLICT (bundle_id) DO NOTHING",
            {"id": e.aggregate_id, "name": e.data["name"], "day": e.data["deploy_date"]},
        )

    def _moved(self, cur: Cursor, e: LoggedEvent) -> None:
        name, before = self._bundle(cur, e.aggregate_id)
        said = f"moved its bundle {name} from {before} to {e.data['deploy_date']}"
        self._step(cur, e, self._items(cur, e.aggregate_id), f"{said}: {e.data['reason']}")
        cur.execute(
            f"UPDATE {self.t(BUNDLES)} SET deploy_date = :day WHERE bundle_id = :id",
            {"id": e.aggregate_id, "day": e.data["deploy_date"]},
        )

    def _bundle(self, cur: Cursor, bundle_id: str) -> tuple[str, str]:
        """The bundle's name and deployment date, as far as this view knows them."""
        cur.execute(
            f"SELECT name, deploy_date FROM {self.t(BUNDLES)} WHERE bundle_id = :id",
            {"id": bundle_id},
        )
        row = cur.fetchone()
        return (row["name"], row["deploy_date"] or "?") if row else ("?", "?")

    def _items(self, cur: Cursor, bundle_id: str) -> list[str]:
        cur.execute(
            f"SELECT request_id FROM {self.t(PLACEMENTS)} WHERE bundle_id = :id",
            {"id": bundle_id},
        )
        return [r["request_id"] for r in cur.fetchall()]

    def _step(self, cur: Cursor, e: LoggedEvent, request_ids: Iterable[str], said: str) -> None:
        """A line of each request's history: what its planning did, and who did it."""
        cur.executemany(
            f"INSERT INTO {self.t(STEPS)} (request_id, position, occurred_at, actor, type,"
            " summary) VALUES (:r, :p, :at, :by, :type, :said)"
            " ON CONFLICT (request_id, position) DO NOTHING",
            [
                {"r": r, "p": e.position, "at": e.occurred_at, "by": e.actor, "type": e.type,
                 "said": said}
                for r in request_ids
            ],
        )  # fmt: skip

    def _bundle_status(self, status: str, *, release_items: bool = False) -> Handler:
        def handle(cur: Cursor, e: LoggedEvent) -> None:
            cur.execute(
                f"UPDATE {self.t(BUNDLES)} SET status = :s WHERE bundle_id = :id",
                {"s": status, "id": e.aggregate_id},
            )
            if release_items:  # a cancelled bundle ships nothing: its requests are unplanned
                name, _ = self._bundle(cur, e.aggregate_id)
                said = f"cancelled its bundle {name}" + opt(": ", e.data.get("reason"))
                self._step(cur, e, self._items(cur, e.aggregate_id), said)
                cur.execute(
                    f"DELETE FROM {self.t(PLACEMENTS)} WHERE bundle_id = :id",
                    {"id": e.aggregate_id},
                )

        return handle

    def _deployed(self, cur: Cursor, e: LoggedEvent) -> None:
        self._bundle_status("deployed")(cur, e)
        name, _ = self._bundle(cur, e.aggregate_id)
        self._step(cur, e, e.data["request_ids"], f"deployed it to production with {name}")
        self._set_stage(cur, e.aggregate_id, e.data["request_ids"], "deployed")

    def _scheduled(self, cur: Cursor, e: LoggedEvent) -> None:
        name, day = self._bundle(cur, e.aggregate_id)
        said = f"scheduled it into {name}, deploying {day}" + (
            f" (after its scope freeze: {e.data.get('reason')})" if e.data["after_freeze"] else ""
        )
        self._step(cur, e, [e.data["request_id"]], said)
        cur.execute(
            f"INSERT INTO {self.t(PLACEMENTS)} (request_id, bundle_id, stage, after_freeze)"
            " VALUES (:r, :b, 'scheduled', :f) ON CONFLICT (request_id) DO UPDATE SET"
            " bundle_id = :b, stage = 'scheduled', after_freeze = :f",
            {"r": e.data["request_id"], "b": e.aggregate_id, "f": int(e.data["after_freeze"])},
        )

    def _unscheduled(self, cur: Cursor, e: LoggedEvent) -> None:
        name, _ = self._bundle(cur, e.aggregate_id)
        said = f"took it out of {name}" + opt(": ", e.data.get("reason"))
        self._step(cur, e, [e.data["request_id"]], said)
        cur.execute(
            f"DELETE FROM {self.t(PLACEMENTS)} WHERE request_id = :r AND bundle_id = :b",
            {"r": e.data["request_id"], "b": e.aggregate_id},
        )

    def _progressed(self, cur: Cursor, e: LoggedEvent) -> None:
        note = e.data.get("note")
        said = f"recorded its progress: {words(e.data['stage'])}" + opt(" (", note, ")")
        self._step(cur, e, [e.data["request_id"]], said)
        self._set_stage(cur, e.aggregate_id, [e.data["request_id"]], e.data["stage"])

    def _signed_off(self, cur: Cursor, e: LoggedEvent) -> None:
        name, _ = self._bundle(cur, e.aggregate_id)
        self._step(cur, e, e.data["request_ids"], f"signed off QA of {name}")
        self._set_stage(cur, e.aggregate_id, e.data["request_ids"], "qa_passed")

    def _set_stage(
        self, cur: Cursor, bundle_id: str, request_ids: Iterable[str], stage: str
    ) -> None:
        for request_id in request_ids:
            cur.execute(
                f"UPDATE {self.t(PLACEMENTS)} SET stage = :s"
                " WHERE request_id = :r AND bundle_id = :b",
                {"s": stage, "r": request_id, "b": bundle_id},
            )


class Schedule:
    """Queries over where requests are planned."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.projection = ScheduleProjection(log)
        self.group = ProjectionGroup(log, [self.projection])

    def placements(self, request_ids: Iterable[str] | None = None) -> dict[str, Placement]:
        """Placements of `request_ids` (every placed request when None)."""
        self.group.ensure_fresh()
        wanted = None if request_ids is None else set(request_ids)
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT p.request_id, p.bundle_id, p.stage, p.after_freeze, b.name,"
                f" b.deploy_date, b.status FROM {self.log.table(PLACEMENTS)} p"
                f" JOIN {self.log.table(BUNDLES)} b ON b.bundle_id = p.bundle_id"
            )
            rows: list[dict[str, Any]] = cur.fetchall()
        return {
            r["request_id"]: Placement(
                request_id=r["request_id"],
                bundle_id=r["bundle_id"],
                bundle_name=r["name"],
                deploy_date=r["deploy_date"],
                bundle_status=r["status"],
                stage=r["stage"],
                after_freeze=bool(r["after_freeze"]),
            )
            for r in rows
            if wanted is None or r["request_id"] in wanted
        }

    def steps(self, request_id: str) -> list[dict[str, Any]]:
        """The request's planning steps as history lines (`position`, `occurred_at`,
        `actor`, `type`, `summary`), oldest first."""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT position, occurred_at, actor, type, summary"
                f" FROM {self.log.table(STEPS)} WHERE request_id = :r ORDER BY position",
                {"r": request_id},
            )
            rows: list[dict[str, Any]] = cur.fetchall()
        return [{**r, "data": {}} for r in rows]
