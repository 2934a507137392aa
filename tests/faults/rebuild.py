"""Do the views the processes maintained equal a fresh rebuild from the log?

The log of the deployment's schema is copied, row for row and position for position, into
a schema of its own; there every projection group folds it from position zero in this
process (no reaction runs: the copy must not grow). Then every table a projection owns is
compared row by row with the live one, and so is the notification outbox, whose
deliveries are enqueued by a follower exactly once per event and recipient.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from railyard.app import all_components
from services.notify.views import OUTBOX
from shared.http.app import all_groups
from shared.platform import Platform
from shared.settings import load_settings
from tests.postgres import fresh_schema
from tests.processes import PUBLIC_URL, Deployment

# What a follower decided for each delivery. The rest of an outbox row (status, attempts,
# timestamps, lease) is the dispatcher's progress, which a rebuild does not redo.
OUTBOX_DECISIONS = (
    "delivery_id",
    "position",
    "event_type",
    "channel",
    "target",
    "topic",
    "payload",
)


def view_tables(platform: Platform) -> list[str]:
    groups = all_groups(platform, all_components(platform))
    return [table for g in groups for p in g.projections for table in p.tables]


@contextlib.contextmanager
def rebuilt_copy(deployment: Deployment) -> Iterator[Platform]:
    """The deployment's log copied into a schema of its own, every view folded there."""
    with fresh_schema(deployment.server_url) as copy:
        rebuilt = Platform.build(
            load_settings(
                database_url=deployment.server_url,
                db_schema=copy,
                create_schema=True,
                pool_size=2,
                public_url=PUBLIC_URL,  # the links the deployment's processes render
            )
        )
        try:
            groups = all_groups(rebuilt, all_components(rebuilt))
            for group in groups:
                group.setup()
            with deployment.sql() as conn:
                conn.execute(
                    f'INSERT INTO "{copy}".railyard_events'
                    " (originator_id, originator_version, topic, state, notification_id)"
                    " SELECT originator_id, originator_version, topic, state, notification_id"
                    f' FROM "{deployment.schema}".railyard_events ORDER BY notification_id'
                )
            for group in groups:
                group.catch_up()
            yield rebuilt
        finally:
            rebuilt.close()


def view_differences(deployment: Deployment, rebuilt: Platform) -> list[str]:
    """Every table that differs between the live views and the rebuilt ones, with examples."""
    tables = dict.fromkeys(view_tables(rebuilt), "*")
    tables[OUTBOX] = ", ".join(OUTBOX_DECISIONS)
    found = []
    with deployment.sql() as conn:
        for table, columns in tables.items():
            live = _rows(conn, deployment.schema, table, columns)
            again = _rows(conn, rebuilt.settings.db_schema, table, columns)
            if live != again:
                found.append(_describe(table, live, again))
    return found


def differences_from_rebuild(deployment: Deployment) -> list[str]:
    with rebuilt_copy(deployment) as rebuilt:
        return view_differences(deployment, rebuilt)


def _rows(conn: Any, schema: str, table: str, columns: str) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(r) for r in conn.execute(f'SELECT {columns} FROM "{schema}".{table}'))


def _describe(table: str, live: Counter[tuple[Any, ...]], again: Counter[tuple[Any, ...]]) -> str:
    only_live = list((live - again).elements())[:3]
    only_rebuilt = list((again - live).elements())[:3]
    return (
        f"{table}: {sum(live.values())} live rows, {sum(again.values())} rebuilt;"
        f" only live {only_live}; only rebuilt {only_rebuilt}"
    )
