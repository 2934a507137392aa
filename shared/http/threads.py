"""Blocking work handed from a process's event loop to a worker thread, in one hand-off
that costs little (decision 0100).

Every route reads or writes PostgreSQL through blocking psycopg calls, so it runs in a
worker thread. FastAPI hands a plain `def` route to a thread through anyio, and hands its
answer to a thread again to check it against the response model: with the caller's
sign-in, three hand-offs for one request, each about 100 microseconds of anyio's
bookkeeping (capacity limiter, cancel scope, its own queue). Here a route written as a
plain function is made a coroutine that runs the function in one hand-off to a standard
thread pool (about a third of the cost), and the answer is checked on the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# As many threads as anyio lent FastAPI by default: requests beyond the database pool's
# connections wait in a thread for one, as they did.
THREADS = 40

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603  # one pool per process, made on first use
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="railyard-request")
    return _pool


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` run in a worker thread, in a copy of the caller's
    context (the request id the logs carry, who is acting), as anyio's hand-off runs it."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor(), call)


def threaded(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function route as a coroutine running it with `in_thread`; coroutines,
    generators (FastAPI streams what they yield) and other callables as they are. FastAPI
    reads the route's parameters and annotations through `__wrapped__`, so its contract
    (and the OpenAPI document) stays the function's."""
    if (
        not inspect.isfunction(endpoint)
        or inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    ):
        return endpoint

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await in_thread(endpoint, *args, **kwargs)

    return run
