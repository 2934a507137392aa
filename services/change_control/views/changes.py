"""Each production change as a row, and its full history, folded from its events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

import orjson

from services.change_control.domain import ProductionChange, Status
from services.change_control.views.revisions import changes_named
from shared.contracts import CHANGE_RAISED
from shared.store.log import LoggedEvent
from shared.store.numbers import add_numbers, next_number
from shared.store.projections import Handler, Projection, event_topic
from shared.store.sql import Cursor
from shared.words import Wording, opt, words

CHANGES, HISTORY = "change_control_changes", "change_control_history"

STATUS_AFTER = {
    "ProductionChange.Raised": Status.IN_REVIEW,
    "ProductionChange.Revised": Status.IN_REVIEW,
    "ProductionChange.Approved": Status.APPROVED,
    "ProductionChange.ImplementationStarted": Status.IMPLEMENTING,
    "ProductionChange.Completed": Status.COMPLETED,
    "ProductionChange.Closed": Status.CLOSED,
    "ProductionChange.Rejected": Status.REJECTED,
    "ProductionChange.Withdrawn": Status.WITHDRAWN,
}
EVENTS = (
    "Raised", "Revised", "ApprovalRecorded", "Approved", "RetrospectivelyApproved", "Rejected",
    "Withdrawn", "ImplementationStarted", "Completed", "ReviewRecorded", "Closed", "Commented",
)  # fmt: skip
# Columns copied as they are from Raised and Revised, with the value a column takes when
# an event carries only the contract's fields (other services' tests publish such events).
PLAN_COLUMNS: dict[str, Any] = {
    "title": "", "window_start": None, "window_end": None, "implementation_plan": "",
    "backout_plan": "", "test_evidence": "", "impact": "", "likelihood": "",
    "affected_users": "", "risk": "", "required_approvals": 0,
}  # fmt: skip


FLAGS = ("backout_tested", "operations_approver_required")


def _a(word: str) -> str:
    """'an emergency', 'a normal'."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _needs(approvals: int | None) -> str:
    """', 1 approval needed', ', 2 approvals needed'; nothing when not recorded."""
    if approvals is None:
        return ""
    if approvals == 0:
        return ", no approval needed"
    return f", {approvals} approval{'' if approvals == 1 else 's'} needed"


def _names(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "nobody"


BOARDS = {"cab": "CAB", "emergency": "emergency board"}


def revised(
    d: Mapping[str, Any], before: Mapping[str, Any] | None = None, zone: tzinfo = UTC
) -> str:
    """'revised the change (revision 2): window end from 15 Dec 2026 18:00 to 19:00 UTC;
    approvals voided: cab.carl'."""
    return (
        f"revised the change (revision {d['revision']})"
        + opt(": ", changes_named(d, before, zone))
        + (f"; approvals voided: {_names(d['approvals_voided'])}" if d["approvals_voided"] else "")
    )


summary = Wording(
    {
        "ProductionChange.Raised": lambda d: (
            "raised a standard change from its template (low risk: the template approves it)"
            if d["change_type"] == "standard"
            else f"raised {_a(words(d['change_type']))} change"
            f" ({d['risk']} risk{_needs(d.get('required_approvals'))})"
        ),
        "ProductionChange.Revised": revised,
        "ProductionChange.ApprovalRecorded": lambda d: (
            f"approved revision {d['revision']}"
            + (" in retrospect" if d["counted_as"] == "retrospective" else "")
            + (" for the emergency board" if d["counted_as"] == "emergency" else "")
            + opt(": ", d.get("comment"))
        ),
        "ProductionChange.Approved": lambda d: (
            "followed a pre-approved standard template: the change is approved, no CAB"
            " approval needed"
            if d.get("board") == "template"
            else "completed the approvals it needs: the change is approved"
            f" ({BOARDS.get(d.get('board') or 'cab', 'CAB')}: {_names(d['approvers'])})"
        ),
        "ProductionChange.RetrospectivelyApproved": lambda d: (
            f"approved in retrospect: {_names(d['approvers'])}"
        ),
        "ProductionChange.Rejected": lambda d: f"rejected: {d['reason']}",
        "ProductionChange.Withdrawn": lambda d: f"withdrawn: {d['reason']}",
        "ProductionChange.ImplementationStarted": lambda d: "started implementation",
        "ProductionChange.Completed": lambda d: (
            f"completed: {words(d['outcome'])}" + opt(" (", d["notes"], ")")
        ),
        "ProductionChange.ReviewRecorded": lambda d: f"recorded the review: {d['findings']}",
        "ProductionChange.Closed": lambda d: "closed",
        "ProductionChange.Commented": lambda d: f"commented: {d['text']}",
    }
)
"""A change's event as one line of its history."""


def pack(values: Sequence[str]) -> str:
    """'|Billing|CRM|' lets one LIKE '%|CRM|%' filter on both backends."""
    return "|" + "|".join(values) + "|" if values else ""


def unpack(packed: str | None) -> list[str]:
    return [v for v in (packed or "").split("|") if v]


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class ChangesProjection(Projection):
    name = "change_control.changes.v1"
    tables = (CHANGES, HISTORY)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(CHANGES)} ("
            " id TEXT PRIMARY KEY, change_type TEXT NOT NULL, title TEXT NOT NULL,"
            " bundle_id TEXT, template_id TEXT, subsystems TEXT NOT NULL, window_start TEXT,"
            " window_end TEXT, implementation_plan TEXT NOT NULL, backout_plan TEXT NOT NULL,"
            " test_evidence TEXT NOT NULL, requester TEXT NOT NULL, implementers TEXT NOT NULL,"
            " impact TEXT NOT NULL, likelihood TEXT NOT NULL, affected_users TEXT NOT NULL,"
            " backout_tested INTEGER NOT NULL, risk TEXT NOT NULL,"
            " required_approvals INTEGER NOT NULL, operations_approver_required INTEGER NOT NULL,"
            " emergency_approvals INTEGER NOT NULL, status TEXT NOT NULL,"
            " revision INTEGER NOT NULL, approvals TEXT NOT NULL, approvers TEXT NOT NULL,"
            " board TEXT, retrospective TEXT NOT NULL, retrospectively_approved INTEGER NOT NULL,"
            " outcome TEXT, notes TEXT, review_required INTEGER NOT NULL,"
            " reviewed INTEGER NOT NULL, findings TEXT, decided_by TEXT, decision_reason TEXT,"
            " raised_at TEXT NOT NULL, approved_at TEXT, started_at TEXT, completed_at TEXT,"
            " closed_at TEXT, updated_at TEXT NOT NULL, version INTEGER NOT NULL,"
            " number INTEGER)"
        )
        for column in ("status", "bundle_id"):
            cur.execute(
                f"CREATE INDEX IF NOT EXISTS {CHANGES}_{column} ON {self.t(CHANGES)} ({column})"
            )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(HISTORY)} ("
            " change_id TEXT NOT NULL, position BIGINT NOT NULL, version INTEGER NOT NULL,"
            " type TEXT NOT NULL, actor TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " summary TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (change_id, position))"
        )
        changes, history = self.t(CHANGES), self.t(HISTORY)
        add_numbers(self.log.db, cur, changes, history, "change_id", CHANGE_RAISED.type)

    def handlers(self) -> Mapping[str, Handler]:
        handlers: dict[str, Handler] = {
            event_topic(ProductionChange, name): self._changed for name in EVENTS
        }
        handlers[event_topic(ProductionChange, "Raised")] = self._raised
        return handlers

    def _raised(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        row: dict[str, Any] = {k: d.get(k, default) for k, default in PLAN_COLUMNS.items()}
        row.update(
            id=e.aggregate_id,
            change_type=d["change_type"],
            bundle_id=d.get("bundle_id"),
            template_id=d.get("template_id"),
            subsystems=pack(d["subsystems"]),
            requester=d["requester"],
            implementers=pack(d["implementers"]),
            backout_tested=int(d.get("backout_tested", False)),
            operations_approver_required=int(d.get("operations_approver_required", False)),
            emergency_approvals=d.get("emergency_approvals", 1),
            status=Status.IN_REVIEW.value,
            revision=1,
            approvals="[]",
            approvers="[]",
            retrospective="[]",
            retrospectively_approved=0,
            review_required=0,
            reviewed=0,
            raised_at=e.occurred_at,
            updated_at=e.occurred_at,
            version=e.version,
        )
        columns = ", ".join(row)
        values = ", ".join(":" + k for k in row)
        number = next_number(self.t(CHANGES))
        cur.execute(
            f"INSERT INTO {self.t(CHANGES)} ({columns}, number) VALUES ({values}, {number})", row
        )
        self._history(cur, e)

    def _changed(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        values: dict[str, Any] = {"updated_at": e.occurred_at, "version": e.version}
        status = STATUS_AFTER.get(e.type)
        if status is not None:
            values["status"] = status.value
        match e.type:
            case "ProductionChange.Revised":
                values.update({k: d[k] for k in PLAN_COLUMNS if k in d})
                values.update({k: int(d[k]) for k in FLAGS if k in d})
                if "implementers" in d:
                    values["implementers"] = pack(d["implementers"])
                values.update(
                    subsystems=pack(d["subsystems"]),
                    revision=d["revision"],
                    approvals="[]",
                    approvers="[]",
                    retrospective="[]",
                    retrospectively_approved=0,
                    board=None,
                    approved_at=None,
                )
            case "ProductionChange.ApprovalRecorded":
                column = "retrospective" if d["counted_as"] == "retrospective" else "approvals"
                current = orjson.loads(self._column(cur, e.aggregate_id, column))
                current.append(
                    {
                        "by": d["by"],
                        "team": d.get("team"),
                        "at": e.occurred_at,
                        "comment": d.get("comment") or None,
                    }
                )

                values[column] = dumps(current)
            case "ProductionChange.Approved":
                values.update(
                    approvers=dumps(d["approvers"]),
                    board=d.get("board", "cab"),
                    approved_at=e.occurred_at,
                )
            case "ProductionChange.RetrospectivelyApproved":
                values["retrospectively_approved"] = 1
            case "ProductionChange.Rejected":
                values.update(decided_by=d["by"], decision_reason=d["reason"])
            case "ProductionChange.Withdrawn":
                values.update(decided_by=e.actor, decision_reason=d["reason"])
            case "ProductionChange.ImplementationStarted":
                values["started_at"] = e.occurred_at
            case "ProductionChange.Completed":
                values.update(
                    outcome=d["outcome"],
                    notes=d["notes"] or None,
                    review_required=int(d.get("review_required", d["outcome"] != "succeeded")),
                    completed_at=e.occurred_at,
                )
            case "ProductionChange.ReviewRecorded":
                values.update(reviewed=1, findings=d["findings"])
            case "ProductionChange.Closed":
                values["closed_at"] = e.occurred_at
        assignments = ", ".join(f"{k} = :{k}" for k in values)
        cur.execute(
            f"UPDATE {self.t(CHANGES)} SET {assignments} WHERE id = :id",
            {**values, "id": e.aggregate_id},
        )
        self._history(cur, e)

    def _column(self, cur: Cursor, change_id: str, column: str) -> str:
        value = cur.scalar(
            f"SELECT {column} FROM {self.t(CHANGES)} WHERE id = :id", {"id": change_id}
        )
        return str(value or "[]")

    def _history(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"INSERT INTO {self.t(HISTORY)} (change_id, position, version, type, actor,"
            " occurred_at, summary, data) VALUES (:id, :pos, :v, :type, :actor, :at, :s, :d)",
            {
                "id": e.aggregate_id,
                "pos": e.position,
                "v": e.version,
                "type": e.type,
                "actor": e.actor,
                "at": e.occurred_at,
                "s": summary(e.type, e.data),
                "d": dumps(e.data),
            },
        )
