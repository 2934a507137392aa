"""The baseline: the `eventsourcing` library on its own, saving the same domain events.

An `eventsourcing.application.Application` configured for PostgreSQL with the library's
defaults (its JSON transcoder, its application recorder with the table lock per insert),
in a schema of its own in the product's database. A submission creates the same
`ChangeRequest` aggregate from the same fields and saves it; an approval loads the same
kind of `ProductionChange` from the library's repository, approves it and saves it. No
HTTP, no authentication, no views, no idempotency keys: what the product adds on top is
what the ratio measures.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from psycopg.conninfo import conninfo_to_dict

from bench import _scenario as scenario
from bench._load import Operation
from services.change_control.domain import ProductionChange
from services.change_control.domain.gates import GateFacts
from shared.domain import attributed_to

SCHEMA = "baseline"


class LibraryBaseline(Application[UUID]):
    """The library's application, its events in the table `baseline_events`."""

    name = "baseline"


def library(url: str, pool_size: int) -> LibraryBaseline:
    params = conninfo_to_dict(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    return LibraryBaseline(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params["dbname"]),
            "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
            "POSTGRES_PORT": str(params.get("port") or "5432"),
            "POSTGRES_USER": str(params.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(params.get("password") or ""),
            "POSTGRES_SCHEMA": SCHEMA,
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size),
        }
    )


def submitter(app: LibraryBaseline, client: int) -> Operation:
    def submit(n: int) -> None:
        app.save(scenario.submitted(client, n))

    return submit


def approver(app: LibraryBaseline, client: int, queue: scenario.Queue) -> Operation:
    who = scenario.reviewer(client)

    def approve(n: int) -> None:
        change: Any = app.repository.get(queue.take())
        assert isinstance(change, ProductionChange)
        with attributed_to(who.username):
            change.approve(who, GateFacts(), 1, "")
        app.save(change)

    return approve
