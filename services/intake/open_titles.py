"""The duplicate check's reading: which requests are open, under what title, up to the
log's head, and how alike two titles read (decisions 0081 and 0084)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import cydifflib
from rapidfuzz import fuzz, process

from services.intake.domain import ChangeRequest, Status
from shared.store.log import EventLog, LoggedEvent
from shared.store.projections import event_topic
from shared.store.recorders import POSITIONS_TABLE

OPEN = (Status.SUBMITTED, Status.INFO_REQUESTED, Status.DEFERRED, Status.ACCEPTED)
STATUS_AFTER = {
    "ChangeRequest.InformationRequested": Status.INFO_REQUESTED,
    "ChangeRequest.InformationProvided": Status.SUBMITTED,
    "ChangeRequest.Accepted": Status.ACCEPTED,
    "ChangeRequest.Rejected": Status.REJECTED,
    "ChangeRequest.Deferred": Status.DEFERRED,
    "ChangeRequest.MarkedDuplicate": Status.DUPLICATE,
    "ChangeRequest.Withdrawn": Status.WITHDRAWN,
    "ChangeRequest.Delivered": Status.DELIVERED,
}


# What changes which requests are open, or what they are called: the events a duplicate
# check reads from the log beyond the requests view (`IntakeViews.open_titles`).
OPEN_TITLE_TOPICS = tuple(
    sorted(
        event_topic(ChangeRequest, name.partition(".")[2])
        for name in ("ChangeRequest.Submitted", "ChangeRequest.Edited", *STATUS_AFTER)
    )
)
# A duplicate check folds at most this many such events beyond the view in memory; past
# that it catches the view up first, once in so many submissions.
TAIL_FOLD_LIMIT = 100


_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    ["a", "an", "and", "the", "to", "for", "of", "in", "on", "with", "from", "by", "new"]
)


def _words(title: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(title.casefold()) if w not in STOPWORDS)


@functools.lru_cache(maxsize=20_000)
def _prepared(title: str) -> tuple[str, frozenset[str]]:
    """A title as it is compared: folded, and its words. Every submission compares its
    title with every open request's, so each open title is prepared once, not each time."""
    return title.casefold(), _words(title)


def similarity(a: str, b: str) -> float:
    """How alike two titles read: the better of word overlap and character similarity."""
    (fa, wa), (fb, wb) = _prepared(a), _prepared(b)
    return max(_jaccard(wa, wb), _ratio(fa, fb))


def _jaccard(wa: frozenset[str], wb: frozenset[str]) -> float:
    union = wa | wb
    return len(wa & wb) / len(union) if union else 0.0


def _ratio(fa: str, fb: str) -> float:
    # cydifflib is difflib's SequenceMatcher compiled: the same ratio, several times faster.
    ratio: float = cydifflib.SequenceMatcher(None, fa, fb).ratio()
    return ratio


def alike(title: str, others: Sequence[str], threshold: float) -> list[tuple[int, float]]:
    """(index, similarity) of each of `others` whose similarity to `title` is at least
    `threshold`: the same answers as `similarity`, for a submission scored against every
    open request's title (decision 0081) at a fraction of the cost.

    SequenceMatcher's ratio is 2M/(len a + len b), M the characters of the matching blocks
    it finds: a common subsequence, so never longer than the longest one. rapidfuzz's
    Indel ratio is that same formula over the longest common subsequence, computed for the
    whole list in one call of compiled code: an upper bound on SequenceMatcher's ratio.
    Only titles the bound lets through are matched character by character (decision 0092)."""
    folded, words = _prepared(title)
    prepared = [_prepared(other) for other in others]
    candidates: set[int] | None = None
    if threshold > 0:
        cutoff = threshold * 100 - 1e-6  # a bound exactly at the threshold, in floating point
        choices = [f for f, _ in prepared]
        candidates = {
            index
            for _, _, index in process.extract(
                folded, choices, scorer=fuzz.ratio, processor=None, score_cutoff=cutoff, limit=None
            )
        }
    found: list[tuple[int, float]] = []
    for index, (f, w) in enumerate(prepared):
        score = _jaccard(words, w)
        if candidates is None or index in candidates:
            score = max(score, _ratio(folded, f))
        if score >= threshold:
            found.append((index, score))
    return found


def open_titles_statement(log: EventLog, requests_table: str) -> str:
    """One statement, so one snapshot: the requests view's open rows, then every event after
    the view's position that changes which requests are open or what they are called
    (at most `:limit` positions on), then the position and the log's head."""
    position, events = log.position_column, log.events_table
    statuses = ", ".join(f":s{i}" for i in range(len(OPEN)))
    topics = ", ".join(f":t{i}" for i in range(len(OPEN_TITLE_TOPICS)))
    positions = log.table(POSITIONS_TABLE)
    return (
        f"WITH p AS (SELECT position, (SELECT MAX({position}) FROM {events}) AS head"
        f" FROM {positions} WHERE name = :projection)"
        " SELECT 0 AS kind, NULL AS position, id, title, department, status,"
        " NULL AS topic, NULL AS version, NULL AS state"
        f" FROM {requests_table} WHERE status IN ({statuses})"
        f" UNION ALL SELECT 1, e.{position}, CAST(e.originator_id AS TEXT), NULL, NULL, NULL,"
        f" e.topic, e.originator_version, e.state FROM {events} e, p"
        f" WHERE e.{position} > p.position AND e.{position} <= p.position + :limit"
        f" AND e.topic IN ({topics})"
        " UNION ALL SELECT 2, p.position, NULL, NULL, NULL, NULL, NULL, p.head, NULL FROM p"
    )


def fold_open_titles(
    rows: Sequence[Mapping[str, Any]],
) -> dict[str, dict[str, Any]] | None:
    """The open requests (id, title, department, status) once the tail's events are applied
    to the view's rows, as the view will apply them; None when an event reopens a request
    whose title the view's open rows do not hold (the view is caught up instead)."""
    open_rows: dict[str, dict[str, Any]] = {}
    tail: list[Mapping[str, Any]] = []
    for row in rows:
        if row["kind"] == 0:
            open_rows[row["id"]] = {
                "id": row["id"],
                "title": row["title"],
                "department": row["department"],
                "status": row["status"],
            }
        elif row["kind"] == 1:
            tail.append(row)
    tail.sort(key=lambda r: int(r["position"]))
    open_values = {s.value for s in OPEN}
    for row in tail:
        e = LoggedEvent.from_row(
            int(row["position"]), row["id"], int(row["version"]), row["topic"], bytes(row["state"])
        )
        if e.type == "ChangeRequest.Submitted":
            open_rows[e.aggregate_id] = {
                "id": e.aggregate_id,
                "title": e.data["title"],
                "department": e.data["department"],
                "status": Status.SUBMITTED.value,
            }
            continue
        current = open_rows.get(e.aggregate_id)
        status = STATUS_AFTER.get(e.type)
        if current is None:
            if status is not None and status.value in open_values:
                return None  # reopened: its title is not among the rows read
            continue
        if e.type == "ChangeRequest.Edited":
            current["title"] = e.data["title"]
        if status is not None:
            if status.value in open_values:
                current["status"] = status.value
            else:
                del open_rows[e.aggregate_id]
    return open_rows
