"""Reference numbers people can say and type (REQ-12, CHG-7), next to the UUIDs.

A record's number is the order in which the log created it: the 12th request submitted is
REQ-12, whoever reads the log. A view assigns it when it applies the creating event, as one
more than the highest number so far: views apply events once each, in log order, so a
rebuild, another process or a consumer replaying the feed counts the same numbers
(decision 0105). A view that had no numbers yet numbers its rows from its history table,
which holds the position of each creating event.
"""

from __future__ import annotations

from shared.store.sql import Cursor, SqlDatabase


def next_number(table: str) -> str:
    """SQL for the number the next created row takes, inside an INSERT's VALUES."""
    return f"(SELECT COALESCE(MAX(number), 0) + 1 FROM {table})"


def add_numbers(
    db: SqlDatabase,
    cur: Cursor,
    table: str,
    history: str,
    key: str,
    created: str,
) -> None:
    """Give a view's `table` made before it had numbers its `number` column and index,
    and number each of its rows without one by the order of its `created` event in
    `history` (whose `key` column names the row). Reads nothing on PostgreSQL, where it
    may run inside a rebuild's script of statements sent at once."""
    name = table.rpartition(".")[2].strip('"')
    add_column(db, cur, table, "number", "INTEGER")
    cur.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_number ON {table} (number)")
    # The history is ranked only while some row has no number: once, after an upgrade.
    cur.execute(
        f"UPDATE {table} AS target SET number = ranked.n FROM (SELECT {key} AS row_id,"
        f" ROW_NUMBER() OVER (ORDER BY position) AS n FROM {history} WHERE type = :created"
        f" AND EXISTS (SELECT 1 FROM {table} WHERE number IS NULL)) AS ranked"
        " WHERE target.id = ranked.row_id AND target.number IS NULL",
        {"created": created},
    )


def add_column(db: SqlDatabase, cur: Cursor, table: str, column: str, kind: str) -> None:
    """Give a view's `table` made before it had `column` that column (of SQL type `kind`),
    empty; nothing if it has it. Reads nothing on PostgreSQL (see `add_numbers`)."""
    if db.backend == "postgres":
        # Checked first: ALTER TABLE takes the table's strongest lock even when the column
        # is there, and every later start of every process would queue behind reads.
        cur.execute(
            "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid ="
            f" CAST('{table}' AS regclass) AND attname = '{column}' AND NOT attisdropped)"
            f" THEN ALTER TABLE {table} ADD COLUMN {column} {kind}; END IF; END$$"
        )
    elif not _sqlite_has_column(cur, table, column):
        cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _sqlite_has_column(cur: Cursor, table: str, column: str) -> bool:
    cur.execute(f"SELECT 1 FROM pragma_table_info('{table}') WHERE name = :c", {"c": column})
    return cur.fetchone() is not None
