"""Server-side secrets every process of one deployment must share (signing keys).

`RAILYARD_SECRET_KEY` wins when set. Otherwise the first process generates a random key
and stores it in the database, where every other process (and every restart) finds it,
on SQLite and PostgreSQL alike. It is never written to the event log.
"""

from __future__ import annotations

import hashlib
import secrets

from shared.store.log import EventLog
from shared.store.recorders import SECRETS_TABLE


def server_secret(log: EventLog, name: str) -> bytes:
    """The deployment's secret called `name`, created once on first use."""
    configured = log.settings.secret_key
    if configured:
        return hashlib.sha256(f"{name}:{configured}".encode()).digest()
    table = log.table(SECRETS_TABLE)
    # The table is created with the log (`railyard migrate`): the role the services
    # connect as may insert into it but not create it.
    with log.db.transaction(write=True) as cur:
        cur.execute(
            f"INSERT INTO {table} (name, value) VALUES (:n, :v) ON CONFLICT (name) DO NOTHING",
            {"n": name, "v": secrets.token_hex(32)},
        )
        value = cur.scalar(f"SELECT value FROM {table} WHERE name = :n", {"n": name})
    return bytes.fromhex(str(value))
