"""The SQL surface views write through behaves the same on both backends."""

from __future__ import annotations

import sqlite3
from datetime import date
from zoneinfo import ZoneInfo

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from shared.platform import Platform
from shared.store.sql import Cursor, on_days

AWKWARD = [
    '{"title": "a \\"quoted\\" back\\\\slash"}',
    "comma, {brace} and 'single' quotes",
    "NULL",
    "",
    "unicode: café — 東京 🚀",
    # What PostgreSQL's writes use to send a column as one text (sql._column):
    "record\x1eseparator",
    "\x1f",
    "unit\x1fseparator",
]


def test_upsert_inserts_new_rows_and_replaces_existing_ones(platform: Platform) -> None:
    table = platform.log.table("test_upsert")
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, note TEXT, data TEXT)")
        cur.upsert(table, ("id", "note", "data"), [("a", None, "first"), ("b", "x", "second")])
        rows = [(f"v{n}", value, value) for n, value in enumerate(AWKWARD)]
        cur.upsert(table, ("id", "note", "data"), [("a", "now noted", "replaced"), *rows])
        cur.upsert(table, ("id", "note", "data"), [("n", None, ""), ("o", "", None)])
        cur.upsert(table, ("id", "note", "data"), [])  # nothing to write: nothing happens
    with platform.log.db.transaction() as cur:
        stored = cur.tuples(f"SELECT id, note, data FROM {table} ORDER BY id")
    assert stored == [
        ("a", "now noted", "replaced"),
        ("b", "x", "second"),
        ("n", None, ""),
        ("o", "", None),
        *sorted((f"v{n}", value, value) for n, value in enumerate(AWKWARD)),
    ]


def test_rows_are_selected_by_any_number_of_ids(platform: Platform) -> None:
    table = platform.log.table("test_in")
    ids = [f"id-{n}" for n in range(1_200)]  # more than SQLite binds in one statement
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, data TEXT)")
        cur.upsert(table, ("id", "data"), [(i, i.upper()) for i in ids])
    with platform.log.db.transaction() as cur:
        found = cur.tuples_in(f"SELECT id, data FROM {table} WHERE", "id", [*ids[::2], "none"])
        nothing = cur.tuples_in(f"SELECT id FROM {table} WHERE", "id", [])
    assert sorted(found) == sorted((i, i.upper()) for i in ids[::2])
    assert nothing == []


def test_writes_sent_together_read_what_came_before_and_fail_as_one(platform: Platform) -> None:
    table = platform.log.table("test_pipeline")
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
        cur.upsert(table, ("id", "data"), [("a", "kept")])
    with platform.log.db.transaction(write=True) as cur, cur.pipeline():
        cur.execute(f"SELECT data FROM {table} WHERE id = :id", {"id": "a"})
        assert cur.fetchall() == [{"data": "kept"}]  # a fetch waits for what was sent
        cur.upsert(table, ("id", "data"), [("b", "also")])

    def write_with_one_bad_row() -> None:
        with platform.log.db.transaction(write=True) as cur, cur.pipeline():
            cur.upsert(table, ("id", "data"), [("c", "lost")])
            cur.execute(f"INSERT INTO {table} (id, data) VALUES ('d', NULL)")  # NOT NULL
            cur.upsert(table, ("id", "data"), [("e", "lost too")])

    with pytest.raises((IntegrityError, sqlite3.IntegrityError)):  # as each backend names it
        write_with_one_bad_row()
    with platform.log.db.transaction() as cur:
        stored = cur.tuples(f"SELECT id, data FROM {table} ORDER BY id")
    assert stored == [("a", "kept"), ("b", "also")]


def test_insert_writes_new_rows_and_refuses_one_already_there(platform: Platform) -> None:
    table = platform.log.table("test_insert")
    rows = [(f"v{n}", value) for n, value in enumerate(AWKWARD)]
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, data TEXT)")
        cur.insert(table, ("id", "data"), rows)
        cur.insert(table, ("id", "data"), [])  # nothing to write: nothing happens
    with platform.log.db.transaction() as cur:
        assert cur.tuples(f"SELECT id, data FROM {table} ORDER BY id") == sorted(rows)
    duplicate = (IntegrityError, sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
    with pytest.raises(duplicate), platform.log.db.transaction(write=True) as cur:
        cur.insert(table, ("id", "data"), [("v0", "again")])


def test_a_script_runs_as_one_transaction_and_a_failure_in_it_changes_nothing(
    platform: Platform,
) -> None:
    table = platform.log.table("test_script")
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, note TEXT)")

    def statements(cur: Cursor) -> None:
        cur.execute(f"INSERT INTO {table} (id, note) VALUES (:id, :note)", {"id": "a",
                    "note": "it's 100% ; quoted: 'x'"})  # fmt: skip
        cur.execute(f"INSERT INTO {table} (id, note) VALUES ('b', 'two')")

    platform.log.db.script(statements)

    def failing(cur: Cursor) -> None:
        cur.execute(f"INSERT INTO {table} (id, note) VALUES ('c', 'lost with the rest')")
        cur.execute(f"INSERT INTO {table} (id, note) VALUES ('a', 'a duplicate')")

    with pytest.raises((IntegrityError, sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
        platform.log.db.script(failing)
    with platform.log.db.transaction() as cur:  # the connection is usable again
        stored = cur.tuples(f"SELECT id, note FROM {table} ORDER BY id")
    assert stored == [("a", "it's 100% ; quoted: 'x'"), ("b", "two")]


def test_a_script_sent_as_one_message_cannot_read_an_answer(postgres_platform: Platform) -> None:
    # (SQLite runs a script's statements one by one on a real cursor.)
    def reading(cur: Cursor) -> None:
        cur.execute("SELECT 1")
        cur.fetchall()

    with pytest.raises(TypeError, match="return nothing to read"):
        postgres_platform.log.db.script(reading)


def test_a_business_day_holds_every_instant_of_it_however_the_log_spelled_it(
    platform: Platform,
) -> None:
    """The log writes an instant without microseconds when it has none ("...05:00:00+00:00")
    and with them otherwise: the first instant of 1 March in New York (05:00 UTC) and
    one a microsecond later are on that day; a microsecond before it, and the first
    instant of 2 March, are not. Either bound may be left open."""
    table = platform.log.table("test_days")
    instants = {
        "before": "2026-03-01T04:59:59.999999+00:00",
        "first": "2026-03-01T05:00:00+00:00",
        "next": "2026-03-01T05:00:00.000001+00:00",
        "last": "2026-03-02T04:59:59.999999+00:00",
        "after": "2026-03-02T05:00:00+00:00",
    }
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, at TEXT)")
        cur.upsert(table, ("id", "at"), list(instants.items()))
    zone = ZoneInfo("America/New_York")

    def on(first: date | None, last: date | None) -> list[str]:
        clauses, params = on_days("at", first, last, zone)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with platform.log.db.transaction() as cur:
            cur.execute(f"SELECT id FROM {table}{where} ORDER BY at", params)
            return [row["id"] for row in cur.fetchall()]

    march_1 = date(2026, 3, 1)
    assert on(march_1, march_1) == ["first", "next", "last"]
    assert on(march_1, None) == ["first", "next", "last", "after"]
    assert on(None, march_1) == ["before", "first", "next", "last"]
    assert on(None, None) == list(instants)
