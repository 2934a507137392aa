"""What a view is: its tables, and how each event changes them (`Projection`), or how a
batch of events is folded in memory and then written (`StagedProjection`). A
`ProjectionGroup` (`shared.store.projections`) follows the log for them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from shared.store.log import EventLog, LoggedEvent
from shared.store.sql import Cursor

Handler = Callable[[Cursor, LoggedEvent], None]


class Projection(ABC):
    """One read model: its tables, and how each event type changes them."""

    name: ClassVar[str]
    """Tracking name; bump its version suffix when the view's shape changes."""

    tables: ClassVar[tuple[str, ...]] = ()
    """The tables it owns, dropped on rebuild."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._handlers = dict(self.handlers())

    def t(self, name: str) -> str:
        return self.log.table(name)

    @abstractmethod
    def create(self, cur: Cursor) -> None:
        """Create the view's tables and indexes if they do not exist."""

    def create_unindexed(self, cur: Cursor) -> None:
        """What a rebuild creates before folding the log: by default everything. A view
        may leave out the indexes its own writes do not need (they are created, by
        `create`, once the rebuild has caught up: sorting every row once costs less than
        keeping an index up to date row by row)."""
        self.create(cur)

    @abstractmethod
    def handlers(self) -> Mapping[str, Handler]:
        """Event topic -> handler. Events with other topics are skipped undecoded."""

    def handles(self, topic: str) -> bool:
        return topic in self._handlers

    def topics(self) -> frozenset[str] | None:
        """The topics this projection reads; None when it reads every event (one that
        overrides `handles` is taken to, as it may accept any topic)."""
        if type(self).handles is not Projection.handles:
            return None
        return frozenset(self._handlers)

    def apply_batch(self, cur: Cursor, events: Sequence[LoggedEvent]) -> None:
        """Apply a batch in log order. Override to fold in memory and write in bulk."""
        for event in events:
            self._handlers[event.topic](cur, event)

    def drop(self, cur: Cursor) -> None:
        for table in self.tables:
            cur.execute(f"DROP TABLE IF EXISTS {self.t(table)}")

    def analyze(self, cur: Cursor) -> None:
        """Statistics for PostgreSQL's planner, after a rebuild: every row is new, and
        until autovacuum comes by (if it runs at all) queries are planned blind. By
        default every table, every column."""
        for table in self.tables:
            cur.execute(f"ANALYZE {self.t(table)}")


F = TypeVar("F")


class StagedProjection(Projection, Generic[F]):
    """A projection that applies a batch in two steps: fold it in memory, then write
    what changed. A long catch-up then folds one batch while the previous is written.

    `fold` reads what it needs through `cur`, except the records the previous batch's
    fold holds (`previous`, None for the first batch of a catch-up, and whenever
    batches are applied one at a time): that batch may still be being written."""

    @abstractmethod
    def fold(self, cur: Cursor, events: Sequence[LoggedEvent], previous: F | None) -> F: ...

    @abstractmethod
    def write(self, cur: Cursor, folded: F) -> None: ...

    def empty(self, events: int) -> F | None:
        """What a rebuild about to fold `events` events starts from (its first batch's
        `previous`): the fold of an empty view, if the projection can hold what it folds
        in memory (see `holds`); None to fold as any catch-up does."""
        return None

    def holds(self, folded: F, busy: bool) -> bool:
        """Whether this fold keeps its rows back, to be written with a later batch's (its
        folds hold their records in memory, and read from the view only what they let go
        of once it was written: the write before the one being handed over has committed
        by the time the next fold begins). `busy`: the writer is still writing what came
        before. The last fold of a catch-up is written whatever this says."""
        return False

    def prepare(self, folded: F, last: bool = False) -> F:
        """What `write` is given, taken in the folding thread just before the write is
        handed to the writer's thread (a fold that holds its records serialises them here,
        while no fold changes them). `last`: no fold of this catch-up follows, so nothing
        changes the records while they are written, and `write` may serialise them
        itself as it sends them."""
        return folded

    def apply_batch(self, cur: Cursor, events: Sequence[LoggedEvent]) -> None:
        self.write(cur, self.prepare(self.fold(cur, events, None), last=True))


def topic_of(event_class: type[Any]) -> str:
    """The stored topic of an event class: its module and qualified name."""
    return f"{event_class.__module__}:{event_class.__qualname__}"


def event_topic(aggregate: type[Any], event_name: str) -> str:
    """The topic of `aggregate.<event_name>`, failing at import time if it was renamed.

    The `@event` decorator creates the event classes at run time, out of sight of mypy."""
    event_class = getattr(aggregate, event_name, None)
    if not isinstance(event_class, type):
        raise AttributeError(f"{aggregate.__qualname__} has no event {event_name!r}")
    return topic_of(event_class)
