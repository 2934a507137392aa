"""Editing the log as its owner would: lift the append-only guards, change rows, restore
the guards. What `railyard verify` must then notice."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import psycopg

from shared.platform import Platform
from shared.store.chain import HASHES_TABLE


def as_owner(platform: Platform, statements: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
    """Run `statements` as the database's owner, who may lift the append-only guards.

    `{events}`, `{hashes}` and `{position}` name the tables and the position column;
    `{p}` is the driver's placeholder."""
    settings = platform.settings
    if platform.log.db.backend == "postgres":
        assert settings.database_url is not None
        names = {
            "events": platform.log.events_table,
            "hashes": platform.log.table(HASHES_TABLE),
            "position": "notification_id",
            "p": "%s",
        }
        with psycopg.connect(settings.database_url) as conn, conn.transaction():
            for table in (names["events"], names["hashes"]):
                conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for statement, params in statements:
                conn.execute(statement.format(**names), params)
            for table in (names["events"], names["hashes"]):
                conn.execute(f"ALTER TABLE IF EXISTS {table} ENABLE TRIGGER USER")
        return
    names = {"events": "railyard_events", "hashes": HASHES_TABLE, "position": "rowid", "p": "?"}
    file = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    try:
        file.execute("BEGIN IMMEDIATE")
        triggers = "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
        guards = file.execute(triggers).fetchall()
        for name, _, _ in guards:
            file.execute(f"DROP TRIGGER {name}")
        for statement, params in statements:
            file.execute(statement.format(**names), params)
        tables = {r[0] for r in file.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for _, table, sql in guards:
            if table in tables:
                file.execute(sql)
        file.execute("COMMIT")
    finally:
        file.close()
