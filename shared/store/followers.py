"""Reactions that turn one fact into a command, and the loop that keeps every follower
of the log moving.

A reaction writes its events together with a ledger mark for the log position it is
reacting to (one transaction), so a reaction killed between two events and restarted
finds its earlier work in the ledger and never does it twice.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar, Protocol

import structlog

from shared.domain import DomainError
from shared.store.errors import StoreUnavailable
from shared.store.log import AlreadyProcessed, EventLog, LoggedEvent
from shared.store.projections import ProjectionGroup
from shared.store.recorders import POSITIONS_TABLE, ReactionMark

log = structlog.get_logger(__name__)


class Reaction(ABC):
    """When a fact of one kind lands in the log, run a command in response."""

    name: ClassVar[str]
    topics: ClassVar[frozenset[str]]

    @abstractmethod
    def react(self, event: LoggedEvent, mark: ReactionMark) -> None:
        """Run the command, saving its events with `mark` (raises AlreadyProcessed)."""


class ReactionRunner:
    """Feeds each reaction every relevant event after its position, exactly once."""

    def __init__(self, log: EventLog, reactions: Iterable[Reaction], batch_size: int = 500) -> None:
        self.log = log
        self.reactions = list(reactions)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._positions = log.table(POSITIONS_TABLE)

    def position(self, reaction: Reaction) -> int:
        with self.log.db.transaction() as cur:
            value = cur.scalar(
                f"SELECT position FROM {self._positions} WHERE name = :name",
                {"name": reaction.name},
            )
        return int(value or 0)

    def _advance(self, reaction: Reaction, position: int) -> None:
        with self.log.db.transaction(write=True) as cur:
            cur.execute(
                f"INSERT INTO {self._positions} (name, position) VALUES (:name, :position)"
                f" ON CONFLICT (name) DO UPDATE SET position = excluded.position"
                f" WHERE {self._positions}.position < excluded.position",
                {"name": reaction.name, "position": position},
            )

    def catch_up(self) -> int:
        """Run every reaction over the events it has not seen; returns events read."""
        total = 0
        with self._lock:
            for reaction in self.reactions:
                while True:
                    after = self.position(reaction)
                    entries = self.log.read(after, self.batch_size)
                    if not entries:
                        break
                    for notification in entries:
                        if notification.topic in reaction.topics:
                            event = LoggedEvent.from_row(
                                notification.id,
                                notification.originator_id,
                                notification.originator_version,
                                notification.topic,
                                notification.state,
                            )
                            self._react(reaction, event)
                        total += 1
                    self._advance(reaction, entries[-1].id)
                    if len(entries) < self.batch_size:
                        break
        return total

    def _react(self, reaction: Reaction, event: LoggedEvent) -> None:
        mark = ReactionMark(reaction.name, event.position)
        try:
            reaction.react(event, mark)
        except AlreadyProcessed:
            log.info("reaction_already_processed", reaction=reaction.name, position=event.position)
        except DomainError as exc:
            # The world moved on (the request was withdrawn, say): nothing to do, and
            # retrying would not change the answer.
            log.warning(
                "reaction_refused",
                reaction=reaction.name,
                position=event.position,
                rule=exc.rule,
                detail=exc.detail,
            )


class BackgroundWorker(Protocol):
    """Something a follower process keeps running (a notification dispatcher, say)."""

    def start(self) -> None: ...
    def stop(self, timeout: float = 10.0) -> None: ...


class Followers:
    """Keeps projection groups and reactions caught up from a background thread."""

    def __init__(
        self,
        groups: Iterable[ProjectionGroup],
        reactions: ReactionRunner | None,
        poll_s: float,
        workers: Iterable[BackgroundWorker] = (),
    ) -> None:
        self.groups = list(groups)
        self.reactions = reactions
        self.poll_s = poll_s
        self.workers = list(workers)  # started and stopped with the followers

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def run_once(self) -> int:
        total = 0
        for group in self.groups:
            total += group.catch_up()
        if self.reactions is not None:
            total += self.reactions.catch_up()
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() > 0
                self.last_error = None
            except StoreUnavailable as exc:
                self.last_error = str(exc)
                log.warning("followers_store_unavailable", error=str(exc))
                busy = False
            except Exception as exc:  # keep following; a bad event must not stop the views
                self.last_error = repr(exc)
                log.exception("followers_failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll_s)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="railyard-followers", daemon=True
            )
            self._thread.start()
            for worker in self.workers:
                worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for worker in self.workers:
            worker.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
