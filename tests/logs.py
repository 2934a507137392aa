"""Capturing what structlog logs, whatever an earlier test in the same process did.

Module-level loggers cache the configuration they first ran with
(`cache_logger_on_first_use`, shared/logging.py): once one of them has logged, in any
earlier test, `structlog.testing.capture_logs()` no longer reaches it, and a test that
asserts what was logged fails or passes depending on which tests ran before it."""

from __future__ import annotations

import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog._config import BoundLoggerLazyProxy  # the proxy type has no public name


def forget_cached_loggers() -> None:
    """Drop what every module-level logger cached, so the current configuration (a
    capture, or another level) reaches it on its next call."""
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            if isinstance(value, BoundLoggerLazyProxy):
                value.__dict__.pop("bind", None)


@contextmanager
def captured_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    forget_cached_loggers()
    try:
        with structlog.testing.capture_logs() as logs:
            yield logs
    finally:
        forget_cached_loggers()
