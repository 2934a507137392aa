"""How a kind of record's reference numbers are written and read: REQ-12, CHG-7.

The numbers themselves are the order in which the log created each record
(`shared.store.numbers`); the prefixes are part of the services' contract
(`shared.contracts`).
"""

from __future__ import annotations

import re


class References:
    """How one kind of record's numbers are written: `prefix`-number, e.g. REQ-12."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._pattern = re.compile(rf"{prefix}-?0*(\d{{1,9}})", re.IGNORECASE)

    def of(self, number: int | None) -> str:
        return f"{self.prefix}-{number}" if number else ""

    def number(self, text: str) -> int | None:
        """The number `text` names ("REQ-12", "req12", " REQ-012 "), or None."""
        match = self._pattern.fullmatch(text.strip())
        return int(match.group(1)) if match and int(match.group(1)) > 0 else None
