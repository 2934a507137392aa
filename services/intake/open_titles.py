"""The duplicate check's reading: which requests are open, under what title, up to the
log's head, and how alike two titles read (decisions 0081, 0084 and 0092)."""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Iterable, Sequence
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
def _prepared(title: str) -> tuple[str, frozenset[str], str]:
    """A title as it is compared: folded, its words, and its words' signature (for the
    word overlap computed in compiled code). Every submission compares its title with
    every open request's, so each open title is prepared once, not each time."""
    words = _words(title)
    return title.casefold(), words, _signature(words)


def _signature(words: frozenset[str]) -> str:
    """One character per word (from the word's hash, outside the surrogates), in order:
    the Indel ratio of two signatures is at least the two titles' Dice coefficient over
    words (shared words give equal characters, and sorted equal characters are a common
    subsequence; two words sharing a character only raise it). Exact when no two words
    share one, as good as always with a million characters to share."""
    return "".join(sorted(chr(0x10000 + hash(word) % 0x100000) for word in words))


def similarity(a: str, b: str) -> float:
    """How alike two titles read: the better of word overlap and character similarity."""
    (fa, wa, _), (fb, wb, _) = _prepared(a), _prepared(b)
    return max(_jaccard(wa, wb), _ratio(fa, fb))


def _jaccard(wa: frozenset[str], wb: frozenset[str]) -> float:
    shared = len(wa & wb)
    union = len(wa) + len(wb) - shared  # the union's size, without building it
    return shared / union if union else 0.0


def _ratio(fa: str, fb: str) -> float:
    # cydifflib is difflib's SequenceMatcher compiled: the same ratio, several times faster.
    ratio: float = cydifflib.SequenceMatcher(None, fa, fb).ratio()
    return ratio


class Choices:
    """Titles in order, each prepared as `most_alike` compares it. A process keeps the
    open requests' titles prepared between duplicate checks and changes them as requests
    open, close and are renamed, instead of preparing every open title again for each
    check (decision 0102). Copy before changing one that other threads may read."""

    __slots__ = ("folded", "signatures", "titles", "words")

    def __init__(self, titles: Iterable[str] = ()) -> None:
        self.titles = list(titles)
        prepared = list(map(_prepared, self.titles))
        self.folded = [p[0] for p in prepared]
        self.words = [p[1] for p in prepared]
        self.signatures = [p[2] for p in prepared]

    def copy(self) -> Choices:
        copied = Choices()
        copied.titles = self.titles.copy()
        copied.folded = self.folded.copy()
        copied.words = self.words.copy()
        copied.signatures = self.signatures.copy()
        return copied

    def append(self, title: str) -> None:
        folded, words, signature = _prepared(title)
        self.titles.append(title)
        self.folded.append(folded)
        self.words.append(words)
        self.signatures.append(signature)

    def replace(self, place: int, title: str) -> None:
        folded, words, signature = _prepared(title)
        self.titles[place] = title
        self.folded[place] = folded
        self.words[place] = words
        self.signatures[place] = signature

    def delete(self, place: int) -> None:
        del self.titles[place], self.folded[place], self.words[place], self.signatures[place]


def most_alike(
    title: str, others: Sequence[str] | Choices, threshold: float, limit: int | None = None
) -> list[tuple[int, float]]:
    """(index, similarity) of the `limit` titles of `others` most like `title`, at least
    `threshold` alike, best first (similarity to three places, then title, then place in
    `others`): exactly what scoring every pair with `similarity` and sorting would give, for
    a submission checked against every open request's title (decision 0081), at a
    fraction of the cost (decisions 0092 and 0101).

    Two passes of compiled code over the whole list find the few titles worth a look:
    - SequenceMatcher's ratio is 2M/(len a + len b), M the characters of the matching
      blocks it finds: a common subsequence, so never longer than the longest one.
      rapidfuzz's Indel ratio is that same formula over the longest common subsequence:
      an upper bound. A title whose bound is below the threshold can only reach it by
      word overlap.
    - The same Indel ratio over two titles' signatures (a character per word, in order)
      is at least their Dice coefficient D over words, and word overlap (Jaccard) is
      J = D / (2 - D): the titles whose overlap may reach the threshold, computed exactly
      here for those alone.
    A title in neither list scores below the threshold. Titles whose overlap is at least
    their bound score their overlap; the rest are matched best bound first, until no
    bound left could reach the top `limit`. `others` may come prepared (`Choices`)."""
    folded, words, signature = _prepared(title)
    choices = others if isinstance(others, Choices) else Choices(others)
    by_ratio = _by_ratio(folded, choices.folded, threshold)
    bounds = dict(by_ratio)
    found: list[tuple[int, float]] = []
    overlaps: dict[int, float] = {}  # the overlap of a title whose ratio may beat it
    for index in _overlapping(signature, choices.signatures, threshold):
        overlap = _jaccard(words, choices.words[index])
        if overlap < threshold:
            continue  # the compiled pass let it through on floating point's benefit
        bound = bounds.get(index)
        if bound is None or bound <= overlap:
            found.append((index, overlap))  # the ratio cannot beat it: the score is the overlap
        else:
            overlaps[index] = overlap
    top: list[float] = []  # the best `limit` scores so far, to three places (a min-heap)
    for _, score in found:
        _keep(top, round(score, 3), limit)
    scored = {index for index, _ in found}
    for index, bound in by_ratio:  # best bound first
        if limit is not None and len(top) == limit and top[0] > round(bound, 3):
            break  # neither this title nor any after it can make the top `limit`
        if index in scored:
            continue
        # Overlap below the threshold (0 here) leaves the ratio alone to reach it.
        score = max(overlaps.get(index, 0.0), _ratio(folded, choices.folded[index]))
        if score >= threshold:
            found.append((index, score))
            _keep(top, round(score, 3), limit)
    titles = choices.titles
    found.sort(key=lambda f: (-round(f[1], 3), titles[f[0]], f[0]))
    return found[:limit]


def _by_ratio(folded: str, choices: list[str], threshold: float) -> list[tuple[int, float]]:
    """(index, an upper bound of SequenceMatcher's ratio) of the choices it lets reach
    `threshold`, highest bound first (a hair above the Indel ratio: the two are computed
    in floating point)."""
    matches = _indel_at_least(folded, choices, threshold * 100)
    return [(index, score / 100 + 1e-9) for _, score, index in matches]


def _overlapping(signature: str, choices: list[str], threshold: float) -> list[int]:
    """The indexes of the choices whose word overlap with the title of `signature` may
    reach `threshold` (Dice at least 2t / (1 + t))."""
    matches = _indel_at_least(signature, choices, 200 * threshold / (1 + threshold))
    return [index for _, _, index in matches]


def _indel_at_least(query: str, choices: list[str], percent: float) -> list[tuple[str, float, int]]:
    """rapidfuzz's (choice, Indel ratio in percent, index) of the choices whose ratio with
    `query` reaches `percent`, less a hair for floating point, best first."""
    cutoff = max(0.0, percent - 1e-6)
    return process.extract(
        query, choices, scorer=fuzz.ratio, processor=None, score_cutoff=cutoff, limit=None
    )


def _keep(top: list[float], score: float, limit: int | None) -> None:
    if limit is None:
        return
    heapq.heappush(top, score)
    if len(top) > limit:
        heapq.heappop(top)


def open_titles_statement(log: EventLog, requests_table: str) -> str:
    """One statement, so one snapshot: the requests view's open rows, then every event after
    the view's position that changes which requests are open or what they are called
    (at most `:limit` positions on), then the position and the log's head."""
    position, events = log.position_column, log.events_table
    statuses = ", ".join(f":s{i}" for i in range(len(OPEN)))
    positions = log.table(POSITIONS_TABLE)
    return (
        f"WITH p AS (SELECT position, (SELECT MAX({position}) FROM {events}) AS head"
        f" FROM {positions} WHERE name = :projection)"
        " SELECT 0 AS kind, NULL AS position, id, title, department, status,"
        " NULL AS topic, NULL AS version, NULL AS state"
        f" FROM {requests_table} WHERE status IN ({statuses})"
        f" UNION ALL {_tail(log, 'p.position', ', p')}"
        " UNION ALL SELECT 2, p.position, NULL, NULL, NULL, NULL, NULL, p.head, NULL FROM p"
    )


def open_titles_tail_statement(log: EventLog) -> str:
    """The same tail and head as `open_titles_statement`, after a position the caller
    names (`:after`, where it last folded them), without the view's rows."""
    position, events = log.position_column, log.events_table
    return (
        f"{_tail(log, 'CAST(:after AS BIGINT)')}"
        " UNION ALL SELECT 2, CAST(:after AS BIGINT), NULL, NULL, NULL, NULL, NULL,"
        f" (SELECT MAX({position}) FROM {events}), NULL"
    )


def _tail(log: EventLog, after: str, joined: str = "") -> str:
    """The rows (kind 1) of the events after `after`, at most `:limit` positions on, that
    change which requests are open or what they are called."""
    position = log.position_column
    topics = ", ".join(f":t{i}" for i in range(len(OPEN_TITLE_TOPICS)))
    return (
        f"SELECT 1 AS kind, e.{position} AS position, CAST(e.originator_id AS TEXT) AS id,"
        " NULL AS title, NULL AS department, NULL AS status, e.topic AS topic,"
        f" e.originator_version AS version, e.state AS state FROM {log.events_table} e{joined}"
        f" WHERE e.{position} > {after} AND e.{position} <= {after} + :limit"
        f" AND e.topic IN ({topics})"
    )


# The columns of `open_titles_statement`'s rows, read as plain tuples: a dict per row
# (psycopg's dict_row) cost a submission more than folding the rows.
KIND, POSITION, ID, TITLE, DEPARTMENT, STATUS, TOPIC, VERSION, STATE = range(9)


OpenTitle = tuple[str, str, str, str]
"""An open request as the duplicate check reads it: id, title, department and status. A
tuple, not a dict: a submission reads every open request, and shows five."""


def open_title(row: Sequence[Any]) -> OpenTitle:
    """One open request, from a row of the view."""
    return (row[ID], row[TITLE], row[DEPARTMENT], row[STATUS])


def open_row(title: OpenTitle) -> dict[str, Any]:
    """An open request as the API and the pages show it."""
    return {"id": title[0], "title": title[1], "department": title[2], "status": title[3]}


class OpenTitles:
    """The open requests in the order the view and then the log give them, their titles
    prepared for the duplicate check (`choices`, place for place). What a process keeps
    between checks, read by several threads: `changed` copies, this one stays as it is."""

    __slots__ = ("_by_id", "choices", "rows")

    def __init__(self, rows: Iterable[OpenTitle] = ()) -> None:
        self.rows = list(rows)
        self._by_id = {row[0]: row for row in self.rows}
        self.choices = Choices(row[1] for row in self.rows)

    def get(self, request_id: str) -> OpenTitle | None:
        return self._by_id.get(request_id)

    def changed(self) -> OpenTitles:
        copied = OpenTitles()
        copied._by_id = self._by_id.copy()
        copied.rows = self.rows.copy()
        copied.choices = self.choices.copy()
        return copied

    def put(self, row: OpenTitle) -> None:
        """Open a request, or change the one open under its id, in its place (found by
        the row itself: the list compares identity first)."""
        current = self._by_id.get(row[0])
        self._by_id[row[0]] = row
        if current is None:
            self.rows.append(row)
            self.choices.append(row[1])
            return
        place = self.rows.index(current)
        self.rows[place] = row
        if row[1] != current[1]:
            self.choices.replace(place, row[1])

    def remove(self, request_id: str) -> None:
        current = self._by_id.pop(request_id, None)
        if current is None:
            return
        place = self.rows.index(current)
        del self.rows[place]
        self.choices.delete(place)


def fold_open_titles(
    rows: Sequence[Sequence[Any]], known: OpenTitles | None = None
) -> OpenTitles | None:
    """The open requests once the tail's events are applied to the view's rows (or to
    those `known` at the tail's start, which stay as they are), as the view will apply
    them; None when an event reopens a request whose title they do not hold (the view is
    caught up instead)."""
    tail = sorted((row for row in rows if row[KIND] == 1), key=lambda r: int(r[POSITION]))
    if known is not None:
        if not tail:
            return known
        open_rows = known.changed()
    else:
        open_rows = OpenTitles(
            (row[ID], row[TITLE], row[DEPARTMENT], row[STATUS]) for row in rows if row[KIND] == 0
        )
    open_values = {s.value for s in OPEN}
    for row in tail:
        e = LoggedEvent.from_row(
            int(row[POSITION]), row[ID], int(row[VERSION]), row[TOPIC], bytes(row[STATE])
        )
        if e.type == "ChangeRequest.Submitted":
            open_rows.put(
                (e.aggregate_id, e.data["title"], e.data["department"], Status.SUBMITTED.value)
            )
            continue
        current = open_rows.get(e.aggregate_id)
        status = STATUS_AFTER.get(e.type)
        if current is None:
            if status is not None and status.value in open_values:
                return None  # reopened: its title is not among the rows read
            continue
        if e.type == "ChangeRequest.Edited":
            current = (current[0], e.data["title"], current[2], current[3])
            open_rows.put(current)
        if status is not None:
            if status.value in open_values:
                open_rows.put((current[0], current[1], current[2], status.value))
            else:
                open_rows.remove(e.aggregate_id)
    return open_rows
