"""A catch-up's next batch of the log, read in advance on a thread and connection of its
own while the current batch is applied (`shared.store.projections`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple, overload

import orjson
import structlog

from shared.store.log import Entry, LoggedEvent

log = structlog.get_logger(__name__)

BEGIN_WAIT_S = 0.05
"""How long asking for a batch waits for its read to begin (a read still running, one
taken in vain, may hold the reading thread)."""


class Undecoded(Sequence[LoggedEvent]):
    """A batch's events as their rows, each decoded when it is reached: a fold that goes
    through them once frees each event before the next is decoded, and the memory of one
    is reused for the next (a list of 10,000 decoded events costs their allocation, and a
    fresh process's page faults, on top of decoding them)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> LoggedEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[LoggedEvent]: ...
    def __getitem__(self, index: int | slice) -> LoggedEvent | list[LoggedEvent]:
        if isinstance(index, slice):
            return [LoggedEvent.from_row(*row) for row in self._rows[index]]
        return LoggedEvent.from_row(*self._rows[index])

    def __iter__(self) -> Iterator[LoggedEvent]:
        decode = LoggedEvent.from_row
        for position, originator_id, version, topic, state in self._rows:
            yield decode(position, originator_id, version, topic, state)

    def entries(self) -> Iterator[Entry | LoggedEvent]:
        """Each event as an `Entry`, decoded as it is reached (an id not yet in its
        canonical spelling makes a LoggedEvent, which has the same fields)."""
        loads, new = orjson.loads, tuple.__new__
        for row in self._rows:
            originator_id, topic, state = row[1], row[3], row[4]
            if type(originator_id) is not str or len(originator_id) != 36:
                yield LoggedEvent.from_row(*row)
                continue
            data = loads(state)
            yield new(Entry, (topic, originator_id, data.get("timestamp", ""), data))


class Batch(NamedTuple):
    after: int
    events: Sequence[LoggedEvent]
    """Each event some projection of the group reads, in log order (a list, or
    `Undecoded` for a staged projection's fold)."""
    last: int
    read: int
    """How many events were read, read or not by the group."""
    limit: int
    """How many it asked for: fewer came back when the log has no more."""

    @property
    def full(self) -> bool:
        return self.read == self.limit


class Reader:
    """Reads batches in advance for one catch-up, on a thread and connection of its own
    (started only when a second batch is due)."""

    def __init__(self, read: Callable[[int, int | None], Batch]) -> None:
        self.read = read
        self.executor: ThreadPoolExecutor | None = None

    def read_ahead(self, after: int, limit: int | None = None) -> Ahead:
        """The batch after `after`, being read; returns once the read has begun (or after
        BEGIN_WAIT_S). A thread handed work while the caller goes on folding waits for the
        interpreter lock, up to the switch interval (5 ms), before it can send its query:
        the fold then waited for the batch it had asked for at its start."""
        if self.executor is None:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="read-ahead")
        begun = threading.Event()

        def read() -> Batch:
            begun.set()
            return self.read(after, limit)

        future = self.executor.submit(read)
        begun.wait(BEGIN_WAIT_S)
        return Ahead(after, future)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)


_TAKEN: Future[Batch] = Future()
"""What an Ahead holds once its batch is taken (cancelled: nothing to wait for)."""
_TAKEN.cancel()


class Ahead:
    """A batch being read in advance on another connection."""

    def __init__(self, after: int, future: Future[Batch]) -> None:
        self.after = after
        self.future = future

    def take(self, start: int) -> Batch | None:
        """The batch, if it starts at `start` (another process may have moved the
        positions meanwhile) and could be read; else None, to read it again here. Taken,
        it is no longer held here: a catch-up keeps its first Ahead until it ends, and
        the rows of its first batch were freed only then."""
        future, self.future = self.future, _TAKEN
        if start != self.after:
            future.cancel()
            return None
        try:
            return future.result()
        except Exception as exc:  # any failure of the read ahead: read it again inline
            log.warning("read_ahead_failed", error=str(exc))
            return None
