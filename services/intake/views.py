"""Read models of intake: the request list, each request's history, department rankings."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import orjson

from services.intake.domain import ChangeRequest, DepartmentRanking, Status
from services.intake.filters import RequestFilter, conditions
from services.intake.history import summary
from services.intake.open_titles import (
    KIND,
    OPEN,
    OPEN_TITLE_TOPICS,
    POSITION,
    STATUS_AFTER,
    TAIL_FOLD_LIMIT,
    VERSION,
    OpenTitles,
    fold_open_titles,
    most_alike,
    open_row,
    open_title,
    open_titles_statement,
    open_titles_tail_statement,
)
from shared.contracts import REQUEST_RATED, REQUEST_REFERENCES, REQUEST_SUBMITTED
from shared.domain import business_now
from shared.store.log import EventLog, LoggedEvent
from shared.store.numbers import add_column, add_numbers, next_number
from shared.store.projections import Handler, Projection, ProjectionGroup, event_topic
from shared.store.sql import Cursor

REQUESTS, HISTORY, RANKINGS = "intake_requests", "intake_history", "intake_rankings"

# Event type -> the request column that records when it first happened.
MILESTONES = {
    "ChangeRequest.Accepted": "accepted_at",
    "ChangeRequest.Rejected": "triaged_at",
    "ChangeRequest.Deferred": "triaged_at",
    "ChangeRequest.MarkedDuplicate": "triaged_at",
    "ChangeRequest.Delivered": "delivered_at",
    "ChangeRequest.Withdrawn": "closed_at",
}


class RequestsProjection(Projection):
    name = "intake.requests.v1"
    tables = (REQUESTS, HISTORY)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(REQUESTS)} ("
            " id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,"
            " justification TEXT NOT NULL, department TEXT NOT NULL, sponsor TEXT NOT NULL,"
            " category TEXT NOT NULL, subsystems TEXT NOT NULL, size_estimate TEXT NOT NULL,"
            " desired_date TEXT, requester TEXT NOT NULL, status TEXT NOT NULL, owner TEXT,"
            " size_points INTEGER, class_of_service TEXT, fixed_date TEXT, duplicate_of TEXT,"
            " question TEXT, decision_reason TEXT, rating INTEGER, rating_comment TEXT,"
            " submitted_at TEXT NOT NULL, triaged_at TEXT, accepted_at TEXT,"
            " delivered_at TEXT, closed_at TEXT, updated_at TEXT NOT NULL,"
            " version INTEGER NOT NULL, number INTEGER)"
        )
        for column in ("status", "department"):
            cur.execute(
                f"CREATE INDEX IF NOT EXISTS {REQUESTS}_{column} ON {self.t(REQUESTS)} ({column})"
            )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(HISTORY)} ("
            " request_id TEXT NOT NULL, position BIGINT NOT NULL, version INTEGER NOT NULL,"
            " type TEXT NOT NULL, actor TEXT NOT NULL, occurred_at TEXT NOT NULL,"
            " summary TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (request_id, position))"
        )
        requests, history = self.t(REQUESTS), self.t(HISTORY)
        add_numbers(self.log.db, cur, requests, history, "request_id", REQUEST_SUBMITTED.type)
        # When the latest rating was given: a view made before it kept the time finds it
        # in its history, once (only rows rated without a time are looked up).
        add_column(self.log.db, cur, requests, "rated_at", "TEXT")
        cur.execute(
            f"UPDATE {requests} SET rated_at = (SELECT h.occurred_at FROM {history} h"
            f" WHERE h.request_id = {requests}.id AND h.type = :rated"
            " ORDER BY h.position DESC LIMIT 1) WHERE rating IS NOT NULL AND rated_at IS NULL",
            {"rated": REQUEST_RATED.type},
        )

    def handlers(self) -> Mapping[str, Handler]:
        handlers: dict[str, Handler] = {event_topic(ChangeRequest, "Submitted"): self._submitted}
        for name in (
            "Edited", "InformationRequested", "InformationProvided", "Accepted", "Rejected",
            "Deferred", "MarkedDuplicate", "Withdrawn", "OwnerAssigned", "Replanned",
            "Delivered", "Rated", "Commented",
        ):  # fmt: skip
            handlers[event_topic(ChangeRequest, name)] = self._changed
        return handlers

    def _history(self, cur: Cursor, e: LoggedEvent) -> None:
        cur.execute(
            f"INSERT INTO {self.t(HISTORY)} (request_id, position, version, type, actor,"
            " occurred_at, summary, data) VALUES (:id, :pos, :v, :type, :actor, :at, :s, :d)",
            {
                "id": e.aggregate_id,
                "pos": e.position,
                "v": e.version,
                "type": e.type,
                "actor": e.actor,
                "at": e.occurred_at,
                "s": summary(e.type, e.data),
                "d": orjson.dumps(e.data).decode(),
            },
        )

    def _submitted(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        cur.execute(
            f"INSERT INTO {self.t(REQUESTS)} (id, title, description, justification, department,"
            " sponsor, category, subsystems, size_estimate, desired_date, requester, status,"
            " submitted_at, updated_at, version, number) VALUES (:id, :title, :description,"
            " :justification, :department, :sponsor, :category, :subsystems, :size_estimate,"
            f" :desired_date, :requester, :status, :at, :at, :v, {next_number(self.t(REQUESTS))})",
            {
                "id": e.aggregate_id,
                "title": d["title"],
                "description": d["description"],
                "justification": d["justification"],
                "department": d["department"],
                "sponsor": d["sponsor"],
                "category": d["category"],
                "subsystems": _pack(d["subsystems"]),
                "size_estimate": d["size_estimate"],
                "desired_date": d.get("desired_date"),
                "requester": d["requester"],
                "status": Status.SUBMITTED.value,
                "at": e.occurred_at,
                "v": e.version,
            },
        )
        self._history(cur, e)

    def _changed(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        values: dict[str, Any] = {"updated_at": e.occurred_at, "version": e.version}
        status = STATUS_AFTER.get(e.type)
        if status is not None:
            values["status"] = status.value
        match e.type:
            case "ChangeRequest.Edited":
                values.update(
                    {
                        k: d[k]
                        for k in (
                            "title",
                            "description",
                            "justification",
                            "sponsor",
                            "category",
                            "size_estimate",
                        )
                    }
                )
                values["desired_date"] = d.get("desired_date")
                values["subsystems"] = _pack(d["subsystems"])
            case "ChangeRequest.InformationRequested":
                values["question"] = d["question"]
            case "ChangeRequest.Accepted" | "ChangeRequest.Replanned":
                plan = ("size_points", "class_of_service", "fixed_date")
                values.update({k: d.get(k) for k in plan})
                if "owner" in d:
                    values["owner"] = d["owner"]
                if e.type == "ChangeRequest.Accepted":  # an earlier deferral's reason is over
                    values["decision_reason"] = None
            case "ChangeRequest.OwnerAssigned":
                values["owner"] = d["owner"]
            case "ChangeRequest.Rejected" | "ChangeRequest.Deferred" | "ChangeRequest.Withdrawn":
                values["decision_reason"] = d["reason"]
            case "ChangeRequest.MarkedDuplicate":
                values["duplicate_of"] = d["duplicate_of"]
                values["decision_reason"] = d.get("note") or None
            case "ChangeRequest.Rated":  # the latest rating counts, at its time (as metrics)
                values["rating"] = d["score"]
                values["rating_comment"] = d.get("comment") or None
                values["rated_at"] = e.occurred_at
        assignments = ", ".join(f"{k} = :{k}" for k in values)
        milestone = MILESTONES.get(e.type)
        if milestone:
            # The first time counts; a later repeat (triaged again) keeps the first.
            assignments += f", {milestone} = COALESCE({milestone}, :milestone_at)"
        if e.type == "ChangeRequest.Accepted":
            assignments += ", triaged_at = COALESCE(triaged_at, :milestone_at)"
        cur.execute(
            f"UPDATE {self.t(REQUESTS)} SET {assignments} WHERE id = :id",
            {**values, "milestone_at": e.occurred_at, "id": e.aggregate_id},
        )
        self._history(cur, e)


class RankingsProjection(Projection):
    name = "intake.rankings.v1"
    tables = (RANKINGS, "intake_ranking_ids")

    def create(self, cur: Cursor) -> None:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(RANKINGS)} ("
            " department_key TEXT PRIMARY KEY, department TEXT NOT NULL,"
            " request_ids TEXT NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t('intake_ranking_ids')} ("
            " aggregate_id TEXT PRIMARY KEY, department_key TEXT NOT NULL)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            event_topic(DepartmentRanking, "Started"): self._started,
            event_topic(DepartmentRanking, "Reordered"): self._reordered,
        }

    def _started(self, cur: Cursor, e: LoggedEvent) -> None:
        department = e.data["department"]
        cur.execute(
            f"INSERT INTO {self.t(RANKINGS)} (department_key, department, request_ids,"
            " updated_at, updated_by) VALUES (:k, :d, '[]', :at, :by)",
            {"k": department.casefold(), "d": department, "at": e.occurred_at, "by": e.actor},
        )
        cur.execute(
            f"INSERT INTO {self.t('intake_ranking_ids')} (aggregate_id, department_key)"
            " VALUES (:a, :k)",
            {"a": e.aggregate_id, "k": department.casefold()},
        )

    def _reordered(self, cur: Cursor, e: LoggedEvent) -> None:
        key = cur.scalar(
            f"SELECT department_key FROM {self.t('intake_ranking_ids')} WHERE aggregate_id = :a",
            {"a": e.aggregate_id},
        )
        cur.execute(
            f"UPDATE {self.t(RANKINGS)} SET request_ids = :ids, updated_at = :at,"
            " updated_by = :by WHERE department_key = :k",
            {
                "ids": orjson.dumps(e.data["order"]).decode(),
                "at": e.occurred_at,
                "by": e.actor,
                "k": key,
            },
        )


def _pack(subsystems: Sequence[str]) -> str:
    # '|Billing|CRM|' lets one LIKE '%|CRM|%' filter on both backends.
    return "|" + "|".join(subsystems) + "|"


def _unpack(packed: str) -> list[str]:
    return [s for s in packed.split("|") if s]


@dataclass
class RequestPage:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


@dataclass
class Ranking:
    department: str
    request_ids: list[str] = field(default_factory=list)
    updated_at: str | None = None
    updated_by: str | None = None


class IntakeViews:
    """Queries that the intake API serves, from the projections above."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.requests = RequestsProjection(log)
        self.rankings = RankingsProjection(log)
        self.group = ProjectionGroup(log, [self.requests, self.rankings])
        self.zone = log.settings.zone
        self.triage_target_days = log.settings.triage_target_days
        self._open_titles = open_titles_statement(log, log.table(REQUESTS))
        self._tail_params = {f"t{i}": topic for i, topic in enumerate(OPEN_TITLE_TOPICS)}
        self._open_titles_params: dict[str, Any] = {
            "projection": self.requests.name,
            **{f"s{i}": status.value for i, status in enumerate(OPEN)},
            **self._tail_params,
        }
        self._open_titles_tail = open_titles_tail_statement(log)
        # The open requests as this process last folded them, and the log position they
        # stand at: the next duplicate check reads only the log after it.
        self._known_titles: tuple[int, OpenTitles] | None = None

    def _t(self, name: str) -> str:
        return self.log.table(name)

    def find(
        self, f: RequestFilter, limit: int = 50, offset: int = 0, order: str = "submitted_at DESC"
    ) -> RequestPage:
        self.group.ensure_fresh()
        where, params = conditions(f, self.zone)
        with self.log.db.transaction() as cur:
            total = int(cur.scalar(f"SELECT COUNT(*) FROM {self._t(REQUESTS)}{where}", params))
            cur.execute(
                f"SELECT * FROM {self._t(REQUESTS)}{where} ORDER BY {order}, id"
                " LIMIT :limit OFFSET :offset",
                {**params, "limit": limit, "offset": offset},
            )
            rows = cur.fetchall()
            items = self._with_deferrals(cur, [_row(r, self.zone) for r in rows])
        return RequestPage(items, total, limit, offset)

    def get(self, request_id: str) -> dict[str, Any] | None:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(f"SELECT * FROM {self._t(REQUESTS)} WHERE id = :id", {"id": request_id})
            row = cur.fetchone()
            return self._with_deferrals(cur, [_row(row, self.zone)])[0] if row else None

    def with_number(self, number: int) -> str | None:
        """The id of the request numbered `number` (REQ-12: 12), if there is one."""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            found = cur.scalar(
                f"SELECT id FROM {self._t(REQUESTS)} WHERE number = :n", {"n": number}
            )
        return str(found) if found is not None else None

    def _with_deferrals(self, cur: Cursor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each deferred request with the date it was deferred until (`deferred_until`),
        read from its latest Deferred event in the history table (decision 0004)."""
        deferred = [r["id"] for r in rows if r["status"] == Status.DEFERRED.value]
        if not deferred:
            return rows
        found = cur.tuples_in(
            f"SELECT request_id, position, data FROM {self._t(HISTORY)}"
            " WHERE type = 'ChangeRequest.Deferred' AND",
            "request_id",
            deferred,
        )
        latest: dict[str, tuple[int, str | None]] = {}
        for request_id, position, data in found:
            if request_id not in latest or position > latest[request_id][0]:
                latest[request_id] = (position, orjson.loads(data).get("until"))
        for row in rows:
            if row["id"] in latest:
                row["deferred_until"] = latest[row["id"]][1]
        return rows

    def titles(self, request_ids: Collection[str]) -> dict[str, str]:
        """The titles of these requests (any it does not hold left out)."""
        with self.log.db.transaction() as cur:
            select = f"SELECT id, title FROM {self._t(REQUESTS)} WHERE"
            return dict(cur.tuples_in(select, "id", request_ids))

    def references(self, request_ids: Collection[str]) -> dict[str, str]:
        """The references (REQ-12) of these requests (any it does not hold left out)."""
        if not request_ids:
            return {}
        with self.log.db.transaction() as cur:
            select = f"SELECT id, number FROM {self._t(REQUESTS)} WHERE"
            rows = cur.tuples_in(select, "id", request_ids)
        return {str(i): REQUEST_REFERENCES.of(n) for i, n in rows}

    def history(self, request_id: str) -> list[dict[str, Any]]:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT position, version, type, actor, occurred_at, summary, data"
                f" FROM {self._t(HISTORY)} WHERE request_id = :id ORDER BY position",
                {"id": request_id},
            )
            rows = cur.fetchall()
        for row in rows:
            row["data"] = _redact(orjson.loads(row["data"]))
            row["summary"] = summary(row["type"], row["data"])  # in today's words
        return rows

    def today(self) -> date:
        """The business day now (the simulated one in a demo's commands)."""
        return (business_now() or datetime.now(UTC)).astimezone(self.zone).date()

    def triage_queue(self, today: date | None = None) -> list[dict[str, Any]]:
        """Waiting for a decision, oldest first (first in, first triaged): submissions, and
        deferred requests whose `until` date has come (`deferred_until` says so); each with
        the days it has waited (`waiting_days`)."""
        page = self.find(
            RequestFilter(status=(Status.SUBMITTED.value,)), limit=10_000, order="submitted_at ASC"
        )
        day = today or self.today()
        queue = [*page.items, *self._deferrals_due(day)]
        for r in queue:
            # Days waiting for this decision, both counted: since submission, or for a
            # deferral come back, since the day it was deferred until.
            until = r.get("deferred_until")
            r["waiting_days"] = (
                (day - date.fromisoformat(until)).days + 1 if until else r["age_days"]
            )
        answers = self._answers([r["id"] for r in queue if r.get("question")])
        for r in queue:
            r["answer"] = answers.get(r["id"])
        queue.sort(key=lambda r: (r["submitted_at"], r["id"]))
        return queue

    def _answers(self, request_ids: list[str]) -> dict[str, str]:
        """The requester's latest answer to triage's question, per request that has one:
        read from the history table, as deferral dates are (decision 0004)."""
        if not request_ids:
            return {}
        with self.log.db.transaction() as cur:
            rows = cur.tuples_in(
                f"SELECT request_id, position, data FROM {self._t(HISTORY)}"
                " WHERE type = 'ChangeRequest.InformationProvided' AND",
                "request_id",
                request_ids,
            )
        latest: dict[str, tuple[int, str]] = {}
        for request_id, position, data in rows:
            seen = latest.get(request_id)
            if seen is None or position > seen[0]:
                latest[request_id] = (position, orjson.loads(data).get("answer") or "")
        return {request_id: answer for request_id, (_, answer) in latest.items()}

    def _deferrals_due(self, today: date) -> list[dict[str, Any]]:
        # The date is read from the latest Deferred event in the history table, so the
        # requests view needs no new column (decision 0004).
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT r.*, h.position AS deferred_position, h.data AS deferral"
                f" FROM {self._t(REQUESTS)} r JOIN {self._t(HISTORY)} h ON h.request_id = r.id"
                " WHERE r.status = :deferred AND h.type = :type",
                {"deferred": Status.DEFERRED.value, "type": "ChangeRequest.Deferred"},
            )
            rows = cur.fetchall()
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            seen = latest.get(row["id"])
            if seen is None or row["deferred_position"] > seen["deferred_position"]:
                latest[row["id"]] = dict(row)
        due = []
        for row in latest.values():
            until = orjson.loads(row.pop("deferral")).get("until")
            del row["deferred_position"]
            if until and date.fromisoformat(until) <= today:
                due.append({**_row(row, self.zone), "deferred_until": until})
        return due

    def counts(self, department: str | None = None) -> dict[str, int]:
        self.group.ensure_fresh()
        params: dict[str, Any] = {}
        where = ""
        if department:
            where = " WHERE LOWER(department) = LOWER(:department)"
            params["department"] = department
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT status, COUNT(*) AS n FROM {self._t(REQUESTS)}{where} GROUP BY status",
                params,
            )
            found = {r["status"]: int(r["n"]) for r in cur.fetchall()}
        return {s.value: found.get(s.value, 0) for s in Status}

    def ranking(self, department: str) -> Ranking:
        """The department's order: its explicit ranking of still-eligible requests, then
        accepted requests it has not ranked yet, oldest acceptance first."""
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT * FROM {self._t(RANKINGS)} WHERE department_key = :k",
                {"k": department.casefold()},
            )
            stored = cur.fetchone()
            cur.execute(
                f"SELECT id FROM {self._t(REQUESTS)} WHERE LOWER(department) ="
                " LOWER(:d) AND status = :s ORDER BY accepted_at, id",
                {"d": department, "s": Status.ACCEPTED.value},
            )
            eligible = [r["id"] for r in cur.fetchall()]
        explicit = orjson.loads(stored["request_ids"]) if stored else []
        eligible_set = set(eligible)
        ordered = [i for i in explicit if i in eligible_set]
        seen = set(ordered)
        ordered += [i for i in eligible if i not in seen]
        return Ranking(
            department=stored["department"] if stored else department,
            request_ids=ordered,
            updated_at=stored["updated_at"] if stored else None,
            updated_by=stored["updated_by"] if stored else None,
        )

    def departments(self) -> list[str]:
        self.group.ensure_fresh()
        with self.log.db.transaction() as cur:
            cur.execute(f"SELECT DISTINCT department FROM {self._t(REQUESTS)} ORDER BY department")
            return [r["department"] for r in cur.fetchall()]

    def open_titles(self) -> list[dict[str, Any]]:
        """Every open request's id, title, department and status, up to the log's head."""
        return [open_row(t) for t in self._open_titles_now().rows]

    def _open_titles_now(self) -> OpenTitles:
        """Every open request up to the log's head.

        Read-your-writes without a write: the duplicate check must see the submission
        another process answered a moment ago, but catching the view up first is a
        locking write transaction that every submission, in every process, would take in
        turn. So one read-only statement (one snapshot) reads the view's open rows with
        the events after its position that change them, and they are folded here as the
        view will fold them. Only a long tail, a view beyond read-your-writes reach or a
        closed request opened again (its title is not among the rows) catches the view
        up first, as every other read does (decision 0084). The process keeps what it
        folded, at the log position it stands at; the next check reads only the events
        after it (decision 0098)."""
        self.group.setup()
        limit = self.log.settings.read_your_writes_max_lag
        folded = self._known_titles_now(limit)
        if folded is not None:
            return folded
        rows: list[tuple[Any, ...]] = []
        for attempt in (1, 2):
            with self.log.db.transaction() as cur:
                rows = cur.tuples(self._open_titles, {**self._open_titles_params, "limit": limit})
            meta = next((r for r in rows if r[KIND] == 2), None)
            beyond = meta is None or int(meta[VERSION] or 0) - int(meta[POSITION] or 0) > limit
            tail = sum(1 for r in rows if r[KIND] == 1)
            if not beyond and (attempt == 2 or tail <= TAIL_FOLD_LIMIT):
                folded = fold_open_titles(rows)
            if folded is not None and meta is not None:
                self._known_titles = (int(meta[VERSION] or 0), folded)
                return folded
            if attempt == 1:
                self.group.ensure_fresh()
        # Beyond read-your-writes reach: the view as it stands, as for every other read.
        return OpenTitles(open_title(r) for r in rows if r[KIND] == 0)

    def _known_titles_now(self, limit: int) -> OpenTitles | None:
        """The open requests this process folded last, brought to the log's head by the
        events since; None when there are none, or too many to fold, or the log is behind
        them (restored from a backup)."""
        known = self._known_titles
        if known is None:
            return None
        after, titles = known
        with self.log.db.transaction() as cur:
            rows = cur.tuples(
                self._open_titles_tail, {**self._tail_params, "after": after, "limit": limit}
            )
        head = next((int(r[VERSION] or 0) for r in rows if r[KIND] == 2), None)
        tail = sum(1 for r in rows if r[KIND] == 1)
        if head is None or not after <= head <= after + limit or tail > TAIL_FOLD_LIMIT:
            return None
        folded = fold_open_titles(rows, titles)
        if folded is not None:
            current = self._known_titles
            if current is None or current[0] <= head:  # another thread may be further on
                self._known_titles = (head, folded)
        return folded

    def similar(
        self, title: str, exclude: str | None = None, limit: int = 5, threshold: float = 0.5
    ) -> list[dict[str, Any]]:
        """Open requests whose titles read like `title`: possible duplicates."""
        if not title.strip():
            return []
        titles = self._open_titles_now()
        # The request itself, if excluded, may take one of the places: one more is asked.
        best = most_alike(title, titles.choices, threshold, limit + (exclude is not None))
        rows = titles.rows
        found = [(rows[index], score) for index, score in best if rows[index][0] != exclude]
        return [{**open_row(row), "similarity": round(score, 3)} for row, score in found[:limit]]


def _redact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if k.endswith("_hash") else v) for k, v in data.items()}


def _row(row: Mapping[str, Any], zone: tzinfo = UTC) -> dict[str, Any]:
    out = dict(row)
    out["subsystems"] = _unpack(out["subsystems"])
    out["reference"] = REQUEST_REFERENCES.of(out.get("number"))
    end = out.get("delivered_at") or out.get("closed_at")
    out["age_days"] = age_days(out["submitted_at"], end, zone)
    return out


def age_days(start: str, end: str | None, zone: tzinfo) -> int:
    """Calendar days in the business time zone, counted inclusively (same day = 1)."""
    first = datetime.fromisoformat(start).astimezone(zone).date()
    last = (datetime.fromisoformat(end) if end else datetime.now(UTC)).astimezone(zone).date()
    return (last - first).days + 1
