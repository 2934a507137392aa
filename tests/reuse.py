"""FastAPI's parameter adapters shared between the apps one test process builds.

A test that serves Railyard builds the whole app (some 880 tests: every `api` and `web`
fixture), and FastAPI makes a pydantic `TypeAdapter` for each of its 505 parameters and
response models as it adds the routes: 0.3 of the 0.65 s an app took to build, a third of
the suite's time. The adapters are the same from one app to the next, so the tests make
each once per process (decision 124). A server process builds its app once and is left
as it is.
"""

from __future__ import annotations

import threading
import typing
from typing import Any

from fastapi._compat import v2  # the one place FastAPI makes its parameters' adapters
from pydantic import TypeAdapter

_MADE = TypeAdapter
_ADAPTERS: dict[tuple[int, str, str], tuple[tuple[Any, ...], Any]] = {}
_LOCK = threading.Lock()


def _reused_adapter(kind: Any, config: Any = None, **options: Any) -> Any:
    """The adapter already made for this annotation with these constraints and field
    attributes, or a new one. The key is the annotation itself (by identity: a class made
    anew is a new key) and the text of the rest; the cache holds what the key names, so
    no identity can be taken over by another object."""
    parts = typing.get_args(kind)
    if not parts or options:
        return _MADE(kind, config=config, **options)
    key = (id(parts[0]), repr(parts[1:]), repr(config))
    with _LOCK:
        held = _ADAPTERS.get(key)
        if held is None:
            held = _ADAPTERS[key] = (parts, _MADE(kind, config=config))
    return held[1]


def install() -> None:
    """Replace the class FastAPI's model fields call with `_reused_adapter` (a function
    where the class was: the module only ever calls it)."""
    module = vars(v2)
    if module.get("TypeAdapter") is TypeAdapter:  # else FastAPI changed: the tests run slower
        module["TypeAdapter"] = _reused_adapter
