"""Codes and events as the words people read: `it_project` -> `IT project`, and each
event of a record as one line of its history (worded when read, so older lines read
like new ones)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ACRONYMS = {"it": "IT", "qa": "QA", "cab": "CAB", "dora": "DORA"}


def words(code: object) -> str:
    """A code's words in running text, its acronyms in capitals: `in_qa` -> `in QA`."""
    return " ".join(ACRONYMS.get(w, w) for w in str(code or "").replace("_", " ").split())


def opt(prefix: str, value: object, suffix: str = "") -> str:
    """`prefix value suffix` when there is a value, else nothing: `opt(": ", note)`."""
    return f"{prefix}{value}{suffix}" if value else ""


class Wording:
    """How each event type of a record reads as one line of its history; a type it does
    not word reads as itself."""

    def __init__(self, lines: Mapping[str, Callable[[dict[str, Any]], str]]) -> None:
        self.lines = lines

    def __call__(self, event_type: str, data: dict[str, Any]) -> str:
        render = self.lines.get(event_type)
        return render(data) if render else event_type


def count(n: int, noun: str) -> str:
    """`1 item`, `3 items`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
