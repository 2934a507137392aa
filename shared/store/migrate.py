"""Database privileges that make the log append-only for the role the services use.

The library's insert takes `LOCK TABLE ... IN EXCLUSIVE MODE`, which PostgreSQL allows
only to roles holding UPDATE, DELETE or TRUNCATE on the table. The service role is
therefore granted SELECT, INSERT and UPDATE, and a row trigger owned by the migrating
role refuses every UPDATE and DELETE; only the table's owner could disable it. The hash
chain's table is written inside that same locked insert and needs no lock of its own:
the role may only read it and append to it. The views' tables, which a rebuild drops and
makes again as the owner, are the service role's by default (decision 120).
"""

from __future__ import annotations

import re

from shared.store.chain import HASHES_TABLE
from shared.store.log import EventLog
from shared.store.recorders import (
    EVENTS_TABLE,
    IDEMPOTENCY_TABLE,
    POSITIONS_TABLE,
    REACTIONS_TABLE,
)

ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_service_role(log: EventLog, role: str) -> None:
    if log.db.backend != "postgres":
        raise ValueError("privileges apply to PostgreSQL only")
    if not ROLE.match(role):
        raise ValueError(f"invalid role name {role!r}")
    schema = log.settings.db_schema
    with log.db.transaction(write=True) as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = :role", {"role": role})
        if cur.fetchone() is None:
            raise ValueError(
                f"there is no PostgreSQL role {role!r}: create it first, e.g."
                f" CREATE ROLE {role} LOGIN PASSWORD '...', then migrate again"
            )
        cur.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        # Views and bookkeeping tables: the services own their contents.
        cur.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}'
        )
        cur.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}')
        # ...and those this (owning) role makes later: `railyard rebuild-views` drops every
        # view's tables and makes them again, which left the services without them (500s).
        cur.execute(
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}"'
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}"
        )
        cur.execute(
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}"'
            f" GRANT USAGE, SELECT ON SEQUENCES TO {role}"
        )
        # The log itself: append and lock, never rewrite.
        events = log.table(EVENTS_TABLE)
        cur.execute(f"REVOKE ALL ON {events} FROM {role}")
        cur.execute(f"GRANT SELECT, INSERT, UPDATE ON {events} TO {role}")
        hashes = log.table(HASHES_TABLE)
        cur.execute(f"REVOKE ALL ON {hashes} FROM {role}")
        cur.execute(f"GRANT SELECT, INSERT ON {hashes} TO {role}")
        for table in (IDEMPOTENCY_TABLE, REACTIONS_TABLE):
            cur.execute(f"REVOKE DELETE, TRUNCATE ON {log.table(table)} FROM {role}")
        cur.execute(f"REVOKE TRUNCATE ON {log.table(POSITIONS_TABLE)} FROM {role}")


NEEDED = (
    (EVENTS_TABLE, "SELECT"),
    (EVENTS_TABLE, "INSERT"),
    (HASHES_TABLE, "INSERT"),
    (IDEMPOTENCY_TABLE, "INSERT"),
    (REACTIONS_TABLE, "INSERT"),
    (POSITIONS_TABLE, "UPDATE"),
)
"""What every write needs of the log's own tables (the views' are checked by using them)."""


def missing_privileges(log: EventLog) -> list[str]:
    """The privileges of NEEDED this process's role lacks ("INSERT on railyard_events"):
    empty on SQLite, and when all are held. Readiness asks, so that a role that lost a
    grant is not ready, instead of answering every write with a 500."""
    if log.db.backend != "postgres":
        return []
    checks = ", ".join(f"has_table_privilege(:t{i}, :p{i}) AS c{i}" for i in range(len(NEEDED)))
    params: dict[str, str] = {}
    for i, (table, privilege) in enumerate(NEEDED):
        params[f"t{i}"] = log.table(table)
        params[f"p{i}"] = privilege
    with log.db.transaction() as cur:
        cur.execute(f"SELECT {checks}", params)
        row = cur.fetchone()
    assert row is not None
    return [f"{p} on {t}" for i, (t, p) in enumerate(NEEDED) if not row[f"c{i}"]]
