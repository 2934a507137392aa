"""CPython's cyclic garbage collector: paused while view batches are applied, and kept
off what a serving process built before it served."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _WhileAny:
    """Something done to the collector when the first of any number of holders, in any
    threads, enters, and undone when the last leaves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0

    def _first_in(self) -> None:
        raise NotImplementedError

    def _last_out(self) -> None:
        raise NotImplementedError

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._first_in()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._last_out()


class _CollectorPause(_WhileAny):
    """Pauses CPython's cyclic garbage collector while any view batch is applied.

    A batch allocates a few containers per event (the decoded data, the event, the rows
    it writes) that all stay alive until it ends, so the collector's thresholds trip again
    and again and each pass walks every one of them, only to find no cycle: it took a
    third of a rebuild's time. Reference counting still frees everything as usual; the
    collector runs again once no batch is being applied in the process (unless the
    program had switched it off itself). Decision 0090."""

    _resume = False

    def _first_in(self) -> None:
        self._resume = gc.isenabled()
        gc.disable()

    def _last_out(self) -> None:
        if self._resume:
            gc.enable()


collector_paused = _CollectorPause()


class _FrozenWhileServing(_WhileAny):
    """Leaves what a process holds when it starts serving (modules, classes, the app, its
    routes and models: about 150,000 objects in a process serving every service) out of
    the collector's passes until it stops.

    A full pass walks every object the process tracks: 77 ms in such a process, 120-160
    ms in the benchmark's (three apps), and it falls inside whichever request crosses the
    collector's threshold (in the benchmark, most requests for every metric at once at
    1M events, which then took 208 ms against 72). With those objects frozen a full pass
    took 6-10 ms there, and next to nothing in an idle process. Freezing and
    unfreezing are cheap (the collector moves its lists, it walks nothing).

    Only the first app to start in a process freezes, and only the last to stop
    unfreezes: whatever was frozen, garbage included, is then collected as usual. An app
    started while another serves freezes nothing more (a test's app, started beside one
    served for a whole test session, would otherwise freeze every earlier test's garbage
    and keep it until that session ends). Decision 0108."""

    def _first_in(self) -> None:
        gc.freeze()

    def _last_out(self) -> None:
        gc.unfreeze()


frozen_while_serving = _FrozenWhileServing()
