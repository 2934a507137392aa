"""Queries the release API serves, over the projections of release's own facts and of
what intake and change control published."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson

from services.release.domain import (
    ACCEPTED,
    QA_ACTIVITY,
    Phase,
    ReleaseBundle,
    RequestFacts,
    bundle_status,
    now,
    over_capacity,
)
from services.release.facts import (
    CHANGES,
    RANKINGS,
    REQUESTS,
    ChangeFactsProjection,
    RequestFactsProjection,
    department_order,
    unpack,
)
from services.release.planning import EXPEDITE, FIXED_DATE, Candidate, OpenBundle
from services.release.views import (
    BUNDLES,
    DATES,
    FEEDS,
    HISTORY,
    ITEMS,
    SCOPE,
    TRAINS,
    BundlesProjection,
    FeedsProjection,
    summary,
)
from shared import contracts as c
from shared.store.log import EventLog
from shared.store.projections import ProjectionGroup

QA_STAGES = tuple(s.value for s in QA_ACTIVITY)
NOT_SCHEDULED = "not yet scheduled"

UNRANKED = (EXPEDITE, FIXED_DATE)  # classes of service served before any ranking


CLOSED_PHASES = {
    "deployed": Phase.DEPLOYED.value,
    "rolled_back": Phase.ROLLED_BACK.value,
    "cancelled": Phase.CANCELLED.value,
}
STILL_TO_SHIP = "b.phase NOT IN (:deployed, :rolled_back, :cancelled)"
"""A bundle `b` still to ship: its items' work waits for someone (with CLOSED_PHASES)."""


class ReleaseViews:
    """Every read of the release service, from tracked projections."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.group = ProjectionGroup(
            log,
            [
                RequestFactsProjection(log),
                ChangeFactsProjection(log),
                BundlesProjection(log),
                FeedsProjection(log),
            ],
        )

    def _t(self, name: str) -> str:
        return self.log.table(name)

    def _rows(
        self, statement: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        with self.log.db.transaction() as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    # -- other services' facts ------------------------------------------------------

    def request_facts(self, request_id: str) -> RequestFacts | None:
        """What intake has said about a request (the caller catches the view up first)."""
        rows = self._rows(
            f"SELECT id, status, size_points, subsystems, fixed_date FROM {self._t(REQUESTS)}"
            " WHERE id = :id",
            {"id": request_id},
        )
        if not rows:
            return None
        row = rows[0]
        return RequestFacts(
            row["id"],
            row["status"],
            row["size_points"],
            unpack(row["subsystems"]),
            row["fixed_date"],
        )

    def change_target(self, change_id: str) -> tuple[str, str | None] | None:
        """(change_type, bundle_id) of a raised production change."""
        rows = self._rows(
            f"SELECT change_type, bundle_id FROM {self._t(CHANGES)} WHERE change_id = :id",
            {"id": change_id},
        )
        return (rows[0]["change_type"], rows[0]["bundle_id"]) if rows else None

    def titles(
        self, request_ids: Collection[str], change_ids: Collection[str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """The titles of these requests, and of these production changes, for the pages
        (any it has not heard of left out)."""
        with self.log.db.transaction() as cur:
            requests = cur.tuples_in(
                f"SELECT id, title FROM {self._t(REQUESTS)} WHERE", "id", request_ids
            )
            changes = cur.tuples_in(
                f"SELECT change_id, title FROM {self._t(CHANGES)} WHERE",
                "change_id",
                change_ids,
            )
        return dict(requests), dict(changes)

    def open_change(self, bundle_id: str) -> dict[str, str] | None:
        """The bundle's production change still open (raised, not yet withdrawn, rejected
        or completed), if any: its id and title."""
        rows = self._rows(
            f"SELECT change_id AS id, title FROM {self._t(CHANGES)}"
            " WHERE bundle_id = :bundle AND open = 1",
            {"bundle": bundle_id},
        )
        return dict(rows[0]) if rows else None

    # -- trains ---------------------------------------------------------------------

    def trains(self) -> list[dict[str, Any]]:
        self.group.ensure_fresh()
        rows = self._rows(f"SELECT * FROM {self._t(TRAINS)} ORDER BY name")
        return [_train(r) for r in rows]

    def train(self, train_id: str) -> dict[str, Any] | None:
        self.group.ensure_fresh()
        rows = self._rows(f"SELECT * FROM {self._t(TRAINS)} WHERE id = :id", {"id": train_id})
        return _train(rows[0]) if rows else None

    # -- bundles --------------------------------------------------------------------

    def bundles(
        self,
        train_id: str | None = None,
        status: Sequence[str] = (),
        from_date: date | None = None,
    ) -> list[dict[str, Any]]:
        self.group.ensure_fresh()
        clauses, params = [], {}
        if train_id:
            clauses.append("train_id = :train")
            params["train"] = train_id
        if from_date:
            clauses.append("deploy_date >= :from_date")
            params["from_date"] = from_date.isoformat()
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._rows(
            f"SELECT * FROM {self._t(BUNDLES)}{where} ORDER BY deploy_date, id", params
        )
        items = self._items([r["id"] for r in rows])
        churn = self._churn_counts([r["id"] for r in rows])
        out = [_bundle(r, items.get(r["id"], []), churn.get(r["id"], {})) for r in rows]
        return [b for b in out if not status or b["status"] in status]

    def bundle(self, bundle_id: str) -> dict[str, Any] | None:
        self.group.ensure_fresh()
        rows = self._rows(f"SELECT * FROM {self._t(BUNDLES)} WHERE id = :id", {"id": bundle_id})
        if not rows:
            return None
        items = self._items([bundle_id]).get(bundle_id, [])
        churn = self._churn_counts([bundle_id]).get(bundle_id, {})
        deploy_date = rows[0]["deploy_date"]
        for item in items:  # a promise this bundle breaks: shown with the item
            item["misses_fixed_date"] = bool(
                item["fixed_date"] and item["fixed_date"] < deploy_date
            )
        return {**_bundle(rows[0], items, churn), "items": items}

    def _items(self, bundle_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        if not bundle_ids:
            return {}
        keys = {f"b{i}": b for i, b in enumerate(bundle_ids)}
        rows = self._rows(
            f"SELECT i.*, r.title, r.department, r.sponsor, r.category, r.owner, r.number,"
            f" r.fixed_date,"
            f" r.status AS request_status FROM {self._t(ITEMS)} i"
            f" LEFT JOIN {self._t(REQUESTS)} r ON r.id = i.request_id"
            f" WHERE i.bundle_id IN ({', '.join(':' + k for k in keys)})"
            " ORDER BY i.position",
            keys,
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            row["subsystems"] = unpack(row["subsystems"])
            row["reference"] = c.REQUEST_REFERENCES.of(row["number"])
            row["after_freeze"] = bool(row["after_freeze"])
            row["over_capacity"] = bool(row["over_capacity"])
            row.pop("position", None)
            found.setdefault(row.pop("bundle_id"), []).append(row)
        return found

    def _churn_counts(self, bundle_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        if not bundle_ids:
            return {}
        keys = {f"b{i}": b for i, b in enumerate(bundle_ids)}
        rows = self._rows(
            f"SELECT bundle_id, kind, COUNT(*) AS n FROM {self._t(SCOPE)}"
            f" WHERE after_freeze = 1 AND bundle_id IN ({', '.join(':' + k for k in keys)})"
            " GROUP BY bundle_id, kind",
            keys,
        )
        found: dict[str, dict[str, int]] = {}
        for row in rows:
            found.setdefault(row["bundle_id"], {})[row["kind"]] = int(row["n"])
        return found

    def history(self, bundle_id: str) -> list[dict[str, Any]]:
        self.group.ensure_fresh()
        rows = self._rows(
            f"SELECT position, version, type, actor, occurred_at, summary, data"
            f" FROM {self._t(HISTORY)} WHERE bundle_id = :id ORDER BY position",
            {"id": bundle_id},
        )
        for row in rows:
            row["data"] = orjson.loads(row["data"])
            # In today's words: a line kept from an older wording reads like the others.
            row["summary"] = summary(row["type"], row["data"])
        return rows

    def churn(self, bundle_id: str) -> dict[str, Any]:
        """Scope changes after the freeze: what was added and removed, by whom and why."""
        self.group.ensure_fresh()
        rows = self._rows(
            f"SELECT s.request_id, s.kind, s.pulled, s.reason, s.actor, s.occurred_at, r.title"
            f" FROM {self._t(SCOPE)} s LEFT JOIN {self._t(REQUESTS)} r ON r.id = s.request_id"
            " WHERE s.bundle_id = :id AND s.after_freeze = 1 ORDER BY s.position",
            {"id": bundle_id},
        )
        for row in rows:
            row["pulled"] = bool(row["pulled"])
        return {
            "bundle_id": bundle_id,
            "added_after_freeze": sum(1 for r in rows if r["kind"] == "added"),
            "removed_after_freeze": sum(1 for r in rows if r["kind"] == "removed"),
            "changes": rows,
        }

    def version_at(self, bundle_id: str, at: datetime) -> int | None:
        """The bundle's version at `at` (business time), or None if it did not exist yet."""
        self.group.ensure_fresh()
        rows = self._rows(
            f"SELECT version, occurred_at FROM {self._t(HISTORY)} WHERE bundle_id = :id",
            {"id": bundle_id},
        )
        versions = [r["version"] for r in rows if datetime.fromisoformat(r["occurred_at"]) <= at]
        return max(versions) if versions else None

    def as_of(self, bundle_id: str, at: datetime) -> dict[str, Any] | None:
        """The bundle's scope, dates and state as they stood at `at`: its own events up
        to then, folded by the domain itself. None if it had not been planned yet."""
        version = self.version_at(bundle_id, at)
        if version is None:
            return None
        bundle = self.log.get(UUID(bundle_id), ReleaseBundle, version=version)
        titles = self.request_titles(list(bundle.items))
        return {
            "bundle_id": bundle_id,
            "at": at.isoformat(),
            "version": version,
            "name": bundle.name,
            "status": bundle.status(at).value,
            "scope_frozen": bundle.is_frozen(at),
            **{k: getattr(bundle, k) for k in DATES},
            "capacity_points": bundle.capacity_points,
            "load": bundle.load(),
            "items": [
                {
                    "request_id": request_id,
                    "title": titles.get(request_id, {}).get("title"),
                    "size_points": item["size_points"],
                    "stage": str(item["stage"]),
                    "after_freeze": bool(item["after_freeze"]),
                }
                for request_id, item in bundle.items.items()
            ],
        }

    def request_titles(self, request_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not request_ids:
            return {}
        keys = {f"r{i}": r for i, r in enumerate(request_ids)}
        rows = self._rows(
            f"SELECT id, title, department, category, owner, sponsor, status, number"
            f" FROM {self._t(REQUESTS)} WHERE id IN ({', '.join(':' + k for k in keys)})",
            keys,
        )
        for row in rows:
            row["reference"] = c.REQUEST_REFERENCES.of(row["number"])
        return {r["id"]: r for r in rows}

    # -- the plan -------------------------------------------------------------------

    def _accepted(self) -> list[dict[str, Any]]:
        return self._rows(
            f"SELECT * FROM {self._t(REQUESTS)} WHERE status = :s ORDER BY accepted_at, id",
            {"s": ACCEPTED},
        )

    def _ranks(self, accepted: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Each accepted request's 1-based position in its department's ranking."""
        explicit = {
            r["department_key"]: orjson.loads(r["request_ids"])
            for r in self._rows(f"SELECT department_key, request_ids FROM {self._t(RANKINGS)}")
        }
        by_department: dict[str, list[str]] = {}
        for row in accepted:
            by_department.setdefault(row["department"].casefold(), []).append(row["id"])
        ranks: dict[str, int] = {}
        for key, eligible in by_department.items():
            for rank, request_id in enumerate(department_order(explicit.get(key, []), eligible)):
                ranks[request_id] = rank + 1
        return ranks

    def ahead_of_rank(self, request_id: str) -> list[str]:
        """The references (REQ-n) of the requests its department ranks above this one that
        no bundle holds, best first: scheduling past them is what the ranking is there to
        prevent, so it is said. None for an expedite or fixed-date request, which the
        ranking does not order."""
        return self.ahead_of_ranks([request_id]).get(request_id, [])

    def ahead_of_ranks(self, request_ids: Sequence[str]) -> dict[str, list[str]]:
        """`ahead_of_rank` of each of these requests, the plan read once for them all (a
        plan applied schedules many at once)."""
        self.group.ensure_fresh()
        accepted = self._accepted()
        ranks, placed = self._ranks(accepted), self._live_placements()
        ranked = [r for r in accepted if (r["class_of_service"] or "standard") not in UNRANKED]
        wanted = set(request_ids)
        found: dict[str, list[str]] = {}
        for me in (r for r in ranked if r["id"] in wanted):
            department = me["department"].casefold()
            found[me["id"]] = [
                r["id"]
                for r in sorted(ranked, key=lambda r: ranks[r["id"]])
                if r["department"].casefold() == department
                and ranks[r["id"]] < ranks[me["id"]]
                and r["id"] not in placed
            ]
        titles = self.request_titles([i for above in found.values() for i in above])
        return {
            me: [titles.get(i, {}).get("reference") or i for i in above]
            for me, above in found.items()
        }

    def _live_placements(self) -> dict[str, dict[str, Any]]:
        """request id -> the bundle (not cancelled) it is scheduled in."""
        rows = self._rows(
            f"SELECT i.request_id, i.stage, b.* FROM {self._t(ITEMS)} i"
            f" JOIN {self._t(BUNDLES)} b ON b.id = i.bundle_id WHERE b.phase <> :cancelled",
            {"cancelled": Phase.CANCELLED.value},
        )
        return {r["request_id"]: r for r in rows}

    def plan(self, department: str | None = None) -> list[dict[str, Any]]:
        """For each accepted request: its bundle and target date, or "not yet scheduled"
        with its position in its department's ranking."""
        self.group.ensure_fresh()
        accepted = self._accepted()
        ranks = self._ranks(accepted)
        placed = self._live_placements()
        stages: dict[str, list[str]] = {}
        for item in placed.values():
            stages.setdefault(item["id"], []).append(item["stage"])
        moment = now()
        entries = []
        for row in accepted:
            if department and row["department"].casefold() != department.casefold():
                continue
            bundle = placed.get(row["id"])
            entry = {
                "request_id": row["id"],
                "number": row["number"],
                "reference": c.REQUEST_REFERENCES.of(row["number"]),
                "title": row["title"],
                "department": row["department"],
                "sponsor": row["sponsor"],
                "owner": row["owner"],
                "category": row["category"],
                "class_of_service": row["class_of_service"],
                "fixed_date": row["fixed_date"],
                "size_points": row["size_points"],
                "department_rank": ranks[row["id"]],
                "scheduled": bundle is not None,
                "bundle_id": bundle["id"] if bundle else None,
                "bundle_name": bundle["name"] if bundle else None,
                "bundle_status": _status(bundle, stages[bundle["id"]], moment) if bundle else None,
                "stage": bundle["stage"] if bundle else None,
                "target_date": bundle["deploy_date"] if bundle else None,
                "plan": f"deploys on {bundle['deploy_date']}" if bundle else NOT_SCHEDULED,
            }
            entries.append(entry)
        entries.sort(key=lambda e: (e["department"].casefold(), e["department_rank"]))
        return entries

    def ready_for_qa(self) -> list[tuple[str, str]]:
        """(deploy date, bundle name) of each item ready for QA in a bundle still to ship,
        the soonest first: what waits for the QA team."""
        self.group.ensure_fresh()
        rows = self._rows(
            f"SELECT b.deploy_date, b.name FROM {self._t(ITEMS)} i"
            f" JOIN {self._t(BUNDLES)} b ON b.id = i.bundle_id"
            f" WHERE i.stage = :ready AND {STILL_TO_SHIP} ORDER BY b.deploy_date, b.name",
            {"ready": "ready_for_qa", **CLOSED_PHASES},
        )
        return [(str(r["deploy_date"]), str(r["name"])) for r in rows]

    def failed_qa(self, owner: str) -> list[tuple[str, str]]:
        """(bundle id, request id) of each item `owner` is the IT owner of that failed QA
        in a bundle still to ship: what waits for them to mend."""
        self.group.ensure_fresh()
        rows = self._rows(
            f"SELECT i.bundle_id, i.request_id FROM {self._t(ITEMS)} i"
            f" JOIN {self._t(BUNDLES)} b ON b.id = i.bundle_id"
            f" JOIN {self._t(REQUESTS)} r ON r.id = i.request_id"
            f" WHERE i.stage = :failed AND r.owner = :owner AND {STILL_TO_SHIP}"
            " ORDER BY b.deploy_date, b.name, i.position",
            {"failed": "qa_failed", "owner": owner, **CLOSED_PHASES},
        )
        return [(str(r["bundle_id"]), str(r["request_id"])) for r in rows]

    def backlog(self) -> list[Candidate]:
        """Accepted requests that are in no live bundle, ready for the suggested plan."""
        self.group.ensure_fresh()
        accepted = self._accepted()
        ranks = self._ranks(accepted)
        placed = self._live_placements()
        return [
            Candidate(
                request_id=r["id"],
                department=r["department"],
                department_rank=ranks[r["id"]],
                class_of_service=r["class_of_service"] or "standard",
                size_points=int(r["size_points"] or 0),
                subsystems=tuple(unpack(r["subsystems"])),
                fixed_date=date.fromisoformat(r["fixed_date"]) if r["fixed_date"] else None,
                accepted_at=r["accepted_at"] or "",
            )
            for r in accepted
            if r["id"] not in placed
        ]

    def open_bundles(
        self, train_id: str | None = None, limit: int | None = None
    ) -> list[OpenBundle]:
        """Upcoming bundles still in planning, before their scope freeze, earliest first."""
        moment = now()
        open_ones = []
        for b in self.bundles(train_id=train_id, from_date=moment.date()):
            if b["status"] != Phase.PLANNING.value:
                continue
            open_ones.append(
                OpenBundle(
                    bundle_id=b["id"],
                    name=b["name"],
                    deploy_date=date.fromisoformat(b["deploy_date"]),
                    capacity_points=b["capacity_points"],
                    subsystem_capacity=dict(b["subsystem_capacity"]),
                    load=b["load"],
                    subsystem_load=dict(b["subsystem_load"]),
                )
            )
        return open_ones[:limit] if limit else open_ones

    # -- calendar feeds -------------------------------------------------------------

    def feed(self, feed_id: str) -> dict[str, Any] | None:
        self.group.ensure_fresh()
        rows = self._rows(f"SELECT * FROM {self._t(FEEDS)} WHERE feed_id = :id", {"id": feed_id})
        return rows[0] if rows else None

    def feeds(self, owner: str) -> list[dict[str, Any]]:
        self.group.ensure_fresh()
        return self._rows(
            f"SELECT feed_id, owner, label, issued_at, revoked_at FROM {self._t(FEEDS)}"
            " WHERE owner = :owner ORDER BY issued_at",
            {"owner": owner},
        )


def _train(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("cadence", "milestones", "subsystem_capacity"):
        out[key] = orjson.loads(out[key])
    return out


def _status(row: Mapping[str, Any], stages: Sequence[str], moment: datetime) -> str:
    frozen = bool(row["frozen_at"]) or moment >= datetime.fromisoformat(row["scope_freeze_at"])
    qa_started = moment >= datetime.fromisoformat(row["qa_start_at"]) or any(
        s in QA_STAGES for s in stages
    )
    return bundle_status(Phase(row["phase"]), frozen, qa_started).value


def _bundle(
    row: Mapping[str, Any], items: Sequence[Mapping[str, Any]], churn: Mapping[str, int]
) -> dict[str, Any]:
    out = dict(row)
    moment = now()
    out["subsystem_capacity"] = orjson.loads(row["subsystem_capacity"])
    out["status"] = _status(row, [i["stage"] for i in items], moment)
    out["scope_frozen"] = bool(row["frozen_at"]) or moment >= datetime.fromisoformat(
        row["scope_freeze_at"]
    )
    out["item_count"] = len(items)
    out["load"] = sum(i["size_points"] for i in items)
    out["subsystem_load"] = {
        s: sum(i["size_points"] for i in items if s in i["subsystems"])
        for s in out["subsystem_capacity"]
    }
    out["capacity_warnings"] = over_capacity(
        row["capacity_points"],
        out["subsystem_capacity"],
        [(i["size_points"], i["subsystems"]) for i in items],
    )
    out["added_after_freeze"] = churn.get("added", 0)
    out["removed_after_freeze"] = churn.get("removed", 0)
    return out
