"""Read models of change control, and the queries the API serves from them.

`ChangeControlViews` owns one projection group: the changes and their history, the
calendar (windows, blackouts, conflicts), release bundles as change control knows them,
the standard templates, and the deployment reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson

from services.change_control.domain import COVERING, Status
from services.change_control.domain.gates import (
    BundleState,
    Clash,
    Gate,
    GateFacts,
    GateSubject,
    evaluate_gates,
)
from services.change_control.domain.values import ChangeType, Window, instant, iso, now
from services.change_control.views.calendar import (
    ACTIVE,
    BLACKOUT_TOPICS,
    BLACKOUTS,
    CONFLICTS,
    HITS,
    WINDOWS,
    CalendarProjection,
)
from services.change_control.views.changes import (
    CHANGES,
    HISTORY,
    ChangesProjection,
    revised,
    summary,
    unpack,
)
from services.change_control.views.records import (
    BUNDLES,
    DEPLOYMENTS,
    TEMPLATES,
    BundlesProjection,
    DeploymentsProjection,
    TemplatesProjection,
)
from services.change_control.views.rows import (
    as_blackout,
    blackout_row,
    change_row,
    deployment_row,
    template_row,
)
from shared.contracts import CHANGE_REFERENCES
from shared.store.log import EventLog
from shared.store.projections import ProjectionGroup
from shared.store.sql import escape_like, on_days


@dataclass(frozen=True)
class ChangeFilter:
    status: Sequence[str] = ()
    change_type: str | None = None
    subsystem: str | None = None
    bundle_id: str | None = None
    person: str | None = None  # requester or implementer
    number: int | None = None  # CHG-7: 7
    text: str | None = None  # in the title
    completed_from: date | None = None  # completed on this business day or later...
    completed_to: date | None = None  # ...and on this one or earlier (deployments, in metrics)


@dataclass(frozen=True)
class DeploymentFilter:
    unauthorised: bool | None = None
    subsystem: str | None = None
    change_id: str | None = None
    pipeline: str | None = None
    about_change: str | None = None
    """Reported under this change, or naming it (whether or not taken as under it)."""
    deployed_from: date | None = None  # deployed on this business day or later...
    deployed_to: date | None = None  # ...and on this one or earlier


def _in(prefix: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
    keys = [f"{prefix}{i}" for i in range(len(values))]
    return ", ".join(":" + k for k in keys), dict(zip(keys, values, strict=True))


class ChangeControlViews:
    """Queries over the change control views; each catches its views up first."""

    def __init__(
        self, log: EventLog, board: Callable[[], Sequence[Mapping[str, Any]]] | None = None
    ) -> None:
        self.log = log
        self.board = board
        """Who sits on the CAB now, each `{"by": username, "team": team}` (from the
        directory, which change control does not own); None where nobody asks whether
        a change can still be approved."""
        self.group = ProjectionGroup(
            log,
            [
                ChangesProjection(log),
                CalendarProjection(log),
                BundlesProjection(log),
                TemplatesProjection(log),
                DeploymentsProjection(log),
            ],
        )

    def _t(self, name: str) -> str:
        return self.log.table(name)

    def _rows(
        self,
        statement: str,
        params: Mapping[str, Any] | None = None,
        reads: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        return self.group.fresh_rows(statement, params or {}, reads)

    # -- changes ---------------------------------------------------------------------

    def change(self, change_id: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {self._t(CHANGES)} WHERE id = :id", {"id": change_id})
        return change_row(rows[0]) if rows else None

    def named(self, change_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each change's reference and title, by id (those of a page of deployments)."""
        wanted = sorted(set(change_ids))
        if not wanted:
            return {}
        placeholders, values = _in("c", wanted)
        rows = self._rows(
            f"SELECT id, number, title FROM {self._t(CHANGES)} WHERE id IN ({placeholders})",
            values,
        )
        return {
            str(r["id"]): {"reference": CHANGE_REFERENCES.of(r["number"]), "title": r["title"]}
            for r in rows
        }

    def with_number(self, number: int) -> str | None:
        """The id of the change numbered `number` (CHG-7: 7), if there is one."""
        rows = self._rows(f"SELECT id FROM {self._t(CHANGES)} WHERE number = :n", {"n": number})
        return str(rows[0]["id"]) if rows else None

    def find(
        self, f: ChangeFilter, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if f.status:
            placeholders, values = _in("s", f.status)
            clauses.append(f"status IN ({placeholders})")
            params.update(values)
        if f.change_type:
            clauses.append("change_type = :type")
            params["type"] = f.change_type
        if f.bundle_id:
            clauses.append("bundle_id = :bundle")
            params["bundle"] = f.bundle_id
        if f.subsystem:
            clauses.append("LOWER(subsystems) LIKE LOWER(:subsystem) ESCAPE '\\'")
            params["subsystem"] = f"%|{escape_like(f.subsystem)}|%"
        if f.number is not None:
            clauses.append("number = :number")
            params["number"] = f.number
        if f.text:
            clauses.append("LOWER(title) LIKE LOWER(:text) ESCAPE '\\'")
            params["text"] = f"%{escape_like(f.text)}%"
        if f.person:
            clauses.append("(requester = :person OR implementers LIKE :packed ESCAPE '\\')")
            params.update(person=f.person, packed=f"%|{escape_like(f.person)}|%")
        zone = self.log.settings.zone
        completed, on = on_days("completed_at", f.completed_from, f.completed_to, zone)
        clauses += completed
        params.update(on)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            total = int(cur.scalar(f"SELECT COUNT(*) FROM {self._t(CHANGES)}{where}", params))
            cur.execute(
                f"SELECT * FROM {self._t(CHANGES)}{where} ORDER BY {_order(f)}, id"
                " LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset},
            )
            rows = cur.fetchall()
        return [change_row(r) for r in rows], total

    def history(self, change_id: str) -> list[dict[str, Any]]:
        rows = self._rows(
            f"SELECT position, version, type, actor, occurred_at, summary, data"
            f" FROM {self._t(HISTORY)} WHERE change_id = :id ORDER BY position",
            {"id": change_id},
        )
        plan: dict[str, Any] | None = None  # as it stood before each revision
        for row in rows:
            row["data"] = orjson.loads(row["data"])
            row["summary"] = summary(row["type"], row["data"])  # in today's words
            if row["type"] == "ProductionChange.Revised":
                row["summary"] = revised(row["data"], plan, self.log.settings.zone)
            if row["type"] in ("ProductionChange.Raised", "ProductionChange.Revised"):
                plan = row["data"]
        return rows

    def conflicts(self, change_id: str) -> list[dict[str, Any]]:
        rows = self._rows(
            f"SELECT c.other_id, c.subsystem, w.title, w.status, w.window_start, w.window_end"
            f" FROM {self._t(CONFLICTS)} c JOIN {self._t(WINDOWS)} w ON w.change_id = c.other_id"
            " WHERE c.change_id = :id ORDER BY w.window_start, c.other_id, c.subsystem",
            {"id": change_id},
        )
        merged: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = merged.setdefault(
                row["other_id"],
                {
                    "change_id": row["other_id"],
                    "title": row["title"],
                    "status": row["status"],
                    "window_start": row["window_start"],
                    "window_end": row["window_end"],
                    "subsystems": [],
                },
            )
            entry["subsystems"].append(row["subsystem"])
        return list(merged.values())

    def blackouts_hitting(self, change_id: str) -> list[dict[str, Any]]:
        rows = self._rows(
            f"SELECT b.* FROM {self._t(HITS)} h JOIN {self._t(BLACKOUTS)} b"
            " ON b.id = h.blackout_id WHERE h.change_id = :id ORDER BY b.window_start",
            {"id": change_id},
        )
        return [blackout_row(r) for r in rows]

    def gates(
        self, change: Mapping[str, Any], bundle: Mapping[str, Any] | None = None
    ) -> list[Gate]:
        """The change's gates as an approval would evaluate them now (`bundle`: its
        bundle's row, when the caller has read it already)."""
        subject = GateSubject(
            ChangeType(change["change_type"]),
            Window.parse(change["window_start"], change["window_end"]),
            change["backout_plan"],
            change["subsystems"],
            change["bundle_id"],
            blackouts_exempt=change["change_type"] == ChangeType.EMERGENCY,
            implementers=change["implementers"],
        )
        blackouts = tuple(as_blackout(b) for b in self.blackouts_hitting(change["id"]))
        state = None
        if change["bundle_id"]:
            row = bundle if bundle is not None else self.bundle(change["bundle_id"])
            state = bundle_state_of(change["bundle_id"], row)
        clashes = self.clashes(change["id"], change["implementers"], subject.window)
        return evaluate_gates(subject, GateFacts(state, blackouts, clashes))

    def open_release_change(self, bundle_id: str) -> tuple[str, str] | None:
        """(id, title) of the bundle's release deployment change still open, if any."""
        placeholders, values = _in("s", ACTIVE)
        rows = self._rows(
            f"SELECT id, title FROM {self._t(CHANGES)} WHERE bundle_id = :bundle"
            f" AND status IN ({placeholders}) ORDER BY raised_at LIMIT 1",
            {"bundle": bundle_id, **values},
        )
        return (str(rows[0]["id"]), str(rows[0]["title"])) if rows else None

    def covering_candidates(self, subsystem: str, at: datetime) -> list[str]:
        """Approved changes whose window holds `at` and whose scope names `subsystem`,
        earliest window first (the domain decides; this only narrows the search)."""
        return [str(r["id"]) for r in self._in_window(sorted(COVERING), subsystem, at)]

    def awaiting_approval(self, subsystem: str, at: datetime) -> list[dict[str, Any]]:
        """Changes still in review whose window holds `at` and whose scope names
        `subsystem`: what a refused deployment was most likely waiting for."""
        rows = self._in_window([Status.IN_REVIEW.value], subsystem, at)
        return [{"id": str(r["id"]), "title": r["title"]} for r in rows]

    def _in_window(
        self, statuses: Sequence[str], subsystem: str, at: datetime
    ) -> list[dict[str, Any]]:
        """Changes in one of `statuses` whose window holds `at` and whose scope names
        `subsystem`, earliest window first."""
        placeholders, values = _in("s", statuses)
        return self._rows(
            f"SELECT id, title FROM {self._t(CHANGES)} WHERE status IN ({placeholders})"
            " AND window_start <= :at AND window_end > :at"
            " AND LOWER(subsystems) LIKE LOWER(:subsystem) ORDER BY window_start, id",
            {**values, "at": iso(at), "subsystem": f"%|{subsystem}|%"},
        )

    def windows(self, window: Window | None, subsystem: str | None) -> list[dict[str, Any]]:
        """Changes with a planned window (overlapping `window` when given), earliest first,
        each with the changes it conflicts with and the blackouts it overlaps. A rejected
        or withdrawn change will not happen: it is not on the calendar."""
        clauses = ["w.window_start IS NOT NULL", "w.status NOT IN ('rejected', 'withdrawn')"]
        params: dict[str, Any] = {}
        if window is not None:
            clauses.append("w.window_start < :end AND w.window_end > :start")
            params.update(start=window.start_iso, end=window.end_iso)
        if subsystem:
            clauses.append("LOWER(w.subsystems) LIKE LOWER(:subsystem)")
            params["subsystem"] = f"%|{subsystem}|%"
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT w.*, c.number, c.outcome FROM {self._t(WINDOWS)} w"
                f" LEFT JOIN {self._t(CHANGES)} c ON c.id = w.change_id"
                f" WHERE {' AND '.join(clauses)} ORDER BY w.window_start, w.change_id",
                params,
            )
            rows = cur.fetchall()
            cur.execute(f"SELECT DISTINCT change_id, other_id FROM {self._t(CONFLICTS)}")
            conflicts = cur.fetchall()
            cur.execute(f"SELECT change_id, blackout_id FROM {self._t(HITS)}")
            hits = cur.fetchall()
        out = []
        for row in rows:
            entry = {k: v for k, v in row.items() if k not in ("active", "subsystems")}
            entry["subsystems"] = unpack(row["subsystems"])
            entry["reference"] = CHANGE_REFERENCES.of(row["number"])
            entry["conflicts_with"] = sorted(
                c["other_id"] for c in conflicts if c["change_id"] == row["change_id"]
            )
            entry["blackouts"] = sorted(
                h["blackout_id"] for h in hits if h["change_id"] == row["change_id"]
            )
            out.append(entry)
        return out

    # -- bundles, blackouts, templates -----------------------------------------------

    def bundle(self, bundle_id: str) -> dict[str, Any] | None:
        rows = self._rows(
            f"SELECT * FROM {self._t(BUNDLES)} WHERE bundle_id = :id", {"id": bundle_id}
        )
        if not rows:
            return None
        row = rows[0]
        row["scope"] = orjson.loads(row["scope"])
        row["signed_off"] = orjson.loads(row["signed_off"])
        touched: dict[str, list[str]] = orjson.loads(row.pop("scope_subsystems"))
        # What deploying the bundle touches: every subsystem of a request in its scope.
        row["subsystems"] = sorted({s for names in touched.values() for s in names})
        return row

    def bundle_state(self, bundle_id: str) -> BundleState | None:
        """The scope is frozen once frozen explicitly or once the clock (business time)
        passes its freeze date; QA has signed off only while its sign-off covers every
        request now in scope."""
        return bundle_state_of(bundle_id, self.bundle(bundle_id))

    def blackouts(
        self, *, include_lifted: bool = False, window: Window | None = None
    ) -> list[dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if not include_lifted:
            clauses.append("lifted = 0")
        if window is not None:
            clauses.append("window_start < :end AND window_end > :start")
            params = {"start": window.start_iso, "end": window.end_iso}
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        # Only blackout events change these rows: an approval checking its gates need not
        # wait for the changes' views to take in the approvals just made.
        rows = self._rows(
            f"SELECT * FROM {self._t(BLACKOUTS)}{where} ORDER BY window_start, id",
            params,
            reads=BLACKOUT_TOPICS,
        )
        return [blackout_row(r) for r in rows]

    def hit_by_blackouts(self, blackout_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """For each blackout in force or to come (or the one named), the open changes whose
        windows it overlaps on a subsystem they share: their approval is refused while it
        stands."""
        rows = self._rows(
            f"SELECT h.blackout_id, c.id, c.number, c.title, c.status, c.window_start"
            f" FROM {self._t(HITS)} h JOIN {self._t(CHANGES)} c ON c.id = h.change_id"
            + (" WHERE h.blackout_id = :id" if blackout_id else "")
            + " ORDER BY c.window_start, c.number",
            {"id": blackout_id},
        )
        hit: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            row["reference"] = CHANGE_REFERENCES.of(row["number"])
            hit.setdefault(row.pop("blackout_id"), []).append(row)
        return hit

    def held_back_by(self, blackout_id: str) -> list[dict[str, Any]]:
        """The open changes a blackout holds back: reference, title and id of each."""
        return self.hit_by_blackouts(blackout_id).get(blackout_id, [])

    def blackout(self, blackout_id: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {self._t(BLACKOUTS)} WHERE id = :id", {"id": blackout_id})
        return blackout_row(rows[0]) if rows else None

    def facts(
        self,
        bundle_id: str | None,
        window: Window | None,
        change_id: str | None = None,
        implementers: Sequence[str] = (),
    ) -> GateFacts:
        """What a command's gates need: the bundle, blackouts overlapping `window`, and
        the other open changes its implementers are booked on in it."""
        blackouts = tuple(as_blackout(b) for b in self.blackouts(window=window)) if window else ()
        bundle = self.bundle_state(bundle_id) if bundle_id else None
        return GateFacts(bundle, blackouts, self.clashes(change_id, implementers, window))

    def clashes(
        self, change_id: str | None, implementers: Sequence[str], window: Window | None
    ) -> tuple[Clash, ...]:
        """The other open changes (in review, approved, being implemented) that any of
        `implementers` is to implement in a window overlapping `window`."""
        if window is None or not implementers:
            return ()
        placeholders, statuses = _in("s", ACTIVE)
        people = {f"p{i}": f"%|{escape_like(u)}|%" for i, u in enumerate(implementers)}
        anyone = " OR ".join(f"implementers LIKE :{k} ESCAPE '\\'" for k in people)
        rows = self._rows(
            f"SELECT * FROM {self._t(CHANGES)} WHERE status IN ({placeholders})"
            f" AND id != :id AND window_start < :end AND window_end > :start AND ({anyone})"
            " ORDER BY window_start, number",
            {**statuses, **people, "id": change_id or "", "start": iso(window.start),
             "end": iso(window.end)},
        )  # fmt: skip
        mine = set(implementers)
        return tuple(
            Clash(
                row["reference"], row["title"], tuple(u for u in row["implementers"] if u in mine)
            )
            for row in map(change_row, rows)
        )

    def templates(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        where = "" if include_retired else " WHERE retired = 0"
        rows = self._rows(f"SELECT * FROM {self._t(TEMPLATES)}{where} ORDER BY name, id")
        return [template_row(r) for r in rows]

    def template(self, template_id: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT * FROM {self._t(TEMPLATES)} WHERE id = :id", {"id": template_id})
        return template_row(rows[0]) if rows else None

    # -- deployments -----------------------------------------------------------------

    def deployments(
        self, f: DeploymentFilter, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if f.unauthorised is not None:
            clauses.append("unauthorised = :unauthorised")
            params["unauthorised"] = int(f.unauthorised)
        for column in ("change_id", "pipeline"):
            if getattr(f, column):
                clauses.append(f"{column} = :{column}")
                params[column] = getattr(f, column)
        if f.about_change:
            clauses.append("(change_id = :about OR claimed_change_id = :about)")
            params["about"] = f.about_change
        if f.subsystem:
            clauses.append("LOWER(subsystem) = LOWER(:subsystem)")
            params["subsystem"] = f.subsystem
        zone = self.log.settings.zone
        deployed, on = on_days("deployed_at", f.deployed_from, f.deployed_to, zone)
        clauses += deployed
        params.update(on)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            total = int(cur.scalar(f"SELECT COUNT(*) FROM {self._t(DEPLOYMENTS)}{where}", params))
            cur.execute(
                f"SELECT * FROM {self._t(DEPLOYMENTS)}{where} ORDER BY position DESC"
                " LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset},
            )
            rows = cur.fetchall()
        return [deployment_row(r) for r in rows], total

    def deployment_counts(self) -> dict[str, Any]:
        rows = self._rows(
            f"SELECT subsystem, unauthorised, COUNT(*) AS n FROM {self._t(DEPLOYMENTS)}"
            " GROUP BY subsystem, unauthorised"
        )
        unauthorised = {r["subsystem"]: int(r["n"]) for r in rows if r["unauthorised"]}
        authorised = sum(int(r["n"]) for r in rows if not r["unauthorised"])
        return {
            "total": authorised + sum(unauthorised.values()),
            "authorised": authorised,
            "unauthorised": sum(unauthorised.values()),
            "unauthorised_by_subsystem": dict(sorted(unauthorised.items())),
        }


def bundle_state_of(bundle_id: str, row: Mapping[str, Any] | None) -> BundleState | None:
    """A bundle's row (`ChangeControlViews.bundle`) as the gates read it."""
    if row is None:
        return None
    covered = set(row["scope"]) <= set(row["signed_off"])
    by_clock = row["scope_freeze_at"] is not None and now() >= instant(row["scope_freeze_at"])
    return BundleState(
        bundle_id=bundle_id,
        name=row["name"],
        scope_frozen=row["scope_frozen_at"] is not None or by_clock,
        qa_signed_off=row["qa_signed_off_at"] is not None and covered,
        cancelled=row["cancelled_at"] is not None,
        deployed=row["deployed_at"] is not None,
        window=Window.parse(row["window_start"], row["window_end"]),
        subsystems=tuple(row["subsystems"]),
    )


def _order(f: ChangeFilter) -> str:
    """Newest raised first; asked for what was completed on some days (deployment
    frequency's changes), the latest completed first: the days the list is of."""
    if f.completed_from or f.completed_to:
        return "completed_at DESC"
    return "raised_at DESC"
