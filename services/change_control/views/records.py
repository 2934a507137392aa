"""Release bundles as change control sees them (from release's facts, by contract topic),
the standard change templates, and every deployment report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.change_control.domain import DeploymentReport
from services.change_control.domain.catalogue import StandardTemplate
from services.change_control.views.changes import dumps, pack
from shared import contracts
from shared.store.log import LoggedEvent
from shared.store.projections import Handler, Projection, event_topic
from shared.store.sql import Cursor

BUNDLES, TEMPLATES, DEPLOYMENTS = (
    "change_control_bundles",
    "change_control_templates",
    "change_control_deployments",
)


class BundlesProjection(Projection):
    """What a release deployment's gates need: is the bundle's scope frozen (explicitly,
    or by the clock passing its `scope_freeze_at`), and has QA signed off everything now
    in it since its last rollback? Reads only the fields in `shared.contracts`."""

    # v2: the subsystems of each request in scope, which a release deployment touches.
    name = "change_control.bundles.v2"
    tables = (BUNDLES,)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(BUNDLES)} ("
            " bundle_id TEXT PRIMARY KEY, name TEXT NOT NULL, deploy_date TEXT,"
            " window_start TEXT, window_end TEXT, scope_freeze_at TEXT, scope TEXT NOT NULL,"
            " scope_subsystems TEXT NOT NULL DEFAULT '{}',"
            " scope_frozen_at TEXT, qa_signed_off_at TEXT, signed_off TEXT NOT NULL,"
            " cancelled_at TEXT, deployed_at TEXT, updated_at TEXT NOT NULL)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            contracts.BUNDLE_PLANNED.topic: self._planned,
            contracts.BUNDLE_MOVED.topic: self._moved,
            contracts.REQUEST_SCHEDULED.topic: self._scope,
            contracts.REQUEST_UNSCHEDULED.topic: self._scope,
            contracts.SCOPE_FROZEN.topic: self._frozen,
            contracts.QA_SIGNED_OFF.topic: self._signed_off,
            contracts.BUNDLE_CANCELLED.topic: self._cancelled,
            contracts.BUNDLE_DEPLOYED.topic: self._deployed,
            contracts.BUNDLE_ROLLED_BACK.topic: self._rolled_back,
        }

    def _planned(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(BUNDLES)} (bundle_id, name, deploy_date, window_start,"
            " window_end, scope_freeze_at, scope, signed_off, updated_at) VALUES (:id, :name,"
            " :date, :start, :end, :freeze, '[]', '[]', :at) ON CONFLICT (bundle_id) DO NOTHING",
            {
                "id": e.aggregate_id,
                "name": d["name"],
                "date": d.get("deploy_date"),
                "start": d.get("window_start"),
                "end": d.get("window_end"),
                "freeze": d.get("scope_freeze_at"),
                "at": e.occurred_at,
            },
        )

    def _update(self, cur: Cursor, e: LoggedEvent, **values: Any) -> None:
        values["updated_at"] = e.occurred_at
        assignments = ", ".join(f"{k} = :{k}" for k in values)
        cur.execute(
            f"UPDATE {self.t(BUNDLES)} SET {assignments} WHERE bundle_id = :id",
            {**values, "id": e.aggregate_id},
        )

    def _moved(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        self._update(
            cur,
            e,
            deploy_date=d.get("deploy_date"),
            window_start=d.get("window_start"),
            window_end=d.get("window_end"),
            scope_freeze_at=d.get("scope_freeze_at"),
        )

    def _scope(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"SELECT scope, scope_subsystems FROM {self.t(BUNDLES)} WHERE bundle_id = :id",
            {"id": e.aggregate_id},
        )
        row = cur.fetchone()
        scope: list[str] = orjson.loads(row["scope"]) if row else []
        touched: dict[str, list[str]] = orjson.loads(row["scope_subsystems"]) if row else {}
        request_id = str(e.data["request_id"])
        if e.type == contracts.REQUEST_SCHEDULED.type:
            if request_id not in scope:
                scope.append(request_id)
            touched[request_id] = list(e.data.get("subsystems") or [])
        elif e.type == contracts.REQUEST_UNSCHEDULED.type:
            if request_id in scope:
                scope.remove(request_id)
            touched.pop(request_id, None)
        self._update(cur, e, scope=dumps(scope), scope_subsystems=dumps(touched))

    def _frozen(self, cur: Cursor, e: LoggedEvent) -> None:
        self._update(cur, e, scope_frozen_at=e.occurred_at)

    def _signed_off(self, cur: Cursor, e: LoggedEvent) -> None:
        ids = [str(i) for i in e.data["request_ids"]]
        self._update(cur, e, qa_signed_off_at=e.occurred_at, signed_off=dumps(ids))

    def _cancelled(self, cur: Cursor, e: LoggedEvent) -> None:
        self._update(cur, e, cancelled_at=e.occurred_at)

    def _deployed(self, cur: Cursor, e: LoggedEvent) -> None:
        self._update(cur, e, deployed_at=e.occurred_at)

    def _rolled_back(self, cur: Cursor, e: LoggedEvent) -> None:
        # A rollback reopens the bundle: QA must sign it off again before the next
        # release deployment can be approved (release's decision 31).
        self._update(cur, e, qa_signed_off_at=None, signed_off="[]")


TEMPLATE_FIELDS = (
    "name", "description", "implementation_plan", "backout_plan", "impact", "likelihood",
    "affected_users", "risk",
)  # fmt: skip


class TemplatesProjection(Projection):
    name = "change_control.templates.v1"
    tables = (TEMPLATES,)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(TEMPLATES)} ("
            " id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,"
            " subsystems TEXT NOT NULL, implementation_plan TEXT NOT NULL,"
            " backout_plan TEXT NOT NULL, impact TEXT NOT NULL, likelihood TEXT NOT NULL,"
            " affected_users TEXT NOT NULL, backout_tested INTEGER NOT NULL,"
            " risk TEXT NOT NULL, retired INTEGER NOT NULL, retired_reason TEXT,"
            " published_by TEXT NOT NULL, published_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL, version INTEGER NOT NULL)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            event_topic(StandardTemplate, "Published"): self._published,
            event_topic(StandardTemplate, "Revised"): self._revised,
            event_topic(StandardTemplate, "Retired"): self._retired,
        }

    @staticmethod
    def _fields(e: LoggedEvent) -> dict[str, Any]:
        d = e.data
        return {
            **{k: d[k] for k in TEMPLATE_FIELDS},
            "subsystems": pack(d["subsystems"]),
            "backout_tested": int(d["backout_tested"]),
            "updated_at": e.occurred_at,
            "version": e.version,
        }

    def _published(self, cur: Cursor, e: LoggedEvent) -> None:
        row = {
            **self._fields(e),
            "id": e.aggregate_id,
            "retired": 0,
            "published_by": e.actor,
            "published_at": e.occurred_at,
        }
        cur.execute(
            f"INSERT INTO {self.t(TEMPLATES)} ({', '.join(row)})"
            f" VALUES ({', '.join(':' + k for k in row)})",
            row,
        )

    def _revised(self, cur: Cursor, e: LoggedEvent) -> None:
        values = self._fields(e)
        cur.execute(
            f"UPDATE {self.t(TEMPLATES)} SET {', '.join(f'{k} = :{k}' for k in values)}"
            " WHERE id = :id",
            {**values, "id": e.aggregate_id},
        )

    def _retired(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"UPDATE {self.t(TEMPLATES)} SET retired = 1, retired_reason = :reason,"
            " updated_at = :at, version = :v WHERE id = :id",
            {"reason": e.data["reason"], "at": e.occurred_at, "v": e.version, "id": e.aggregate_id},
        )


class DeploymentsProjection(Projection):
    """Every deployment report, authorised or not: nothing a pipeline says is lost."""

    name = "change_control.deployments.v1"
    tables = (DEPLOYMENTS,)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(DEPLOYMENTS)} ("
            " id TEXT PRIMARY KEY, position BIGINT NOT NULL, pipeline TEXT NOT NULL,"
            " subsystem TEXT NOT NULL, version TEXT NOT NULL, deployed_at TEXT NOT NULL,"
            " claimed_change_id TEXT, change_id TEXT, unauthorised INTEGER NOT NULL,"
            " reason TEXT, recorded_at TEXT NOT NULL)"
        )
        for column in ("change_id", "unauthorised"):
            cur.execute(
                f"CREATE INDEX IF NOT EXISTS {DEPLOYMENTS}_{column}"
                f" ON {self.t(DEPLOYMENTS)} ({column})"
            )

    def handlers(self) -> Mapping[str, Handler]:
        return {event_topic(DeploymentReport, "Recorded"): self._recorded}

    def _recorded(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(DEPLOYMENTS)} (id, position, pipeline, subsystem, version,"
            " deployed_at, claimed_change_id, change_id, unauthorised, reason, recorded_at)"
            " VALUES (:id, :position, :pipeline, :subsystem, :version, :deployed_at,"
            " :claimed, :change_id, :unauthorised, :reason, :at)",
            {
                "id": e.aggregate_id,
                "position": e.position,
                "pipeline": d["pipeline"],
                "subsystem": d["subsystem"],
                "version": d["version"],
                "deployed_at": d["deployed_at"],
                "claimed": d.get("claimed_change_id"),
                "change_id": d.get("change_id"),
                "unauthorised": int(d["unauthorised"]),
                "reason": d.get("reason"),
                "at": e.occurred_at,
            },
        )
