"""The SQL surface views write through behaves the same on both backends."""

from __future__ import annotations

import sqlite3

import pytest
from eventsourcing.persistence import IntegrityError

from shared.platform import Platform

AWKWARD = [
    '{"title": "a \\"quoted\\" back\\\\slash"}',
    "comma, {brace} and 'single' quotes",
    "NULL",
    "",
    "unicode: café — 東京 🚀",
]


def test_upsert_inserts_new_rows_and_replaces_existing_ones(platform: Platform) -> None:
    table = platform.log.table("test_upsert")
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, note TEXT, data TEXT)")
        cur.upsert(table, ("id", "note", "data"), [("a", None, "first"), ("b", "x", "second")])
        rows = [(f"v{n}", value, value) for n, value in enumerate(AWKWARD)]
        cur.upsert(table, ("id", "note", "data"), [("a", "now noted", "replaced"), *rows])
        cur.upsert(table, ("id", "note", "data"), [])  # nothing to write: nothing happens
    with platform.log.db.transaction() as cur:
        stored = cur.tuples(f"SELECT id, note, data FROM {table} ORDER BY id")
    assert stored == [
        ("a", "now noted", "replaced"),
        ("b", "x", "second"),
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
