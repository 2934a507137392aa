"""Running an import: each row's steps through intake's use cases, once each.

A step's idempotency key (`<external key>:<step>`) is stored in the same transaction as
the events it wrote. Whether a step was already imported is therefore decided from the
log's own bookkeeping, never from a file on the side; a re-run after a crash finishes
the rows it had started and repeats nothing.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import orjson

from railyard.importer import IMPORT_SCOPE, Rejected, Row
from services.intake.application import Intake, RequestDraft
from services.intake.domain import Category, ClassOfService, SizeEstimate
from services.intake.views import IntakeViews
from shared.application import IdempotencyRequest, acting_as
from shared.domain import DomainError, InvalidCommand
from shared.identity.domain import Principal, Role
from shared.platform import Platform
from shared.store.log import ClaimTaken

SHOWN_OWNERS = 10
"""How many active IT users a refused `--owner` names (the rest are counted)."""


@dataclass(frozen=True)
class RowOutcome:
    line: int
    key: str
    result: str  # imported | would import | already imported | rejected
    detail: str
    request_id: str | None = None


class RequestImport:
    """Imports validated rows as an importing actor, at each step's original time."""

    def __init__(self, platform: Platform, actor: str) -> None:
        self.log = platform.log
        self.directory = platform.directory
        self.views = IntakeViews(platform.log)
        self.intake = Intake(platform.log, self.views, platform.directory)
        self.actor = actor

    def check_owner(self, username: str) -> None:
        """Refuses an `--owner` that is not an active IT user, naming those who are."""
        if self._it_user(username):
            return
        active = [u.username for u in self.directory.users(Role.IT_STAFF.value) if u.active]
        shown = ", ".join(active[:SHOWN_OWNERS]) or "none yet"
        more = f" and {len(active) - SHOWN_OWNERS} more" if len(active) > SHOWN_OWNERS else ""
        raise InvalidCommand(
            "unknown_owner",
            f"--owner {username!r} is not an active IT user (it_staff); the active IT users"
            f" are {shown}{more} (`railyard users list` shows every user)",
        )

    def _it_user(self, username: str) -> bool:
        owner = self.directory.principal(username)
        return owner is not None and owner.has(Role.IT_STAFF)

    def run(self, rows: list[Row | Rejected], dry_run: bool) -> list[RowOutcome]:
        users = (u.department for u in self.directory.users() if u.department)
        departments = _Departments([*self.views.departments(), *users])
        for row in rows:
            if isinstance(row, Row):
                departments.read(row)
        return [self._one(row, dry_run) for row in rows]

    def _one(self, row: Row | Rejected, dry_run: bool) -> RowOutcome:
        if isinstance(row, Rejected):
            return RowOutcome(row.line, row.key, "rejected", row.reason)
        if "accept" in row.steps and row.owner and not self._it_user(row.owner):
            # Only a row whose work was accepted needs its owner: a submitted one is not
            # refused for a name it never uses.
            return RowOutcome(
                row.line,
                row.key,
                "rejected",
                f"owner {row.owner!r} is not an active IT user (unknown_owner)",
            )
        pending = [s for s in row.steps if self.log.find_claim(IMPORT_SCOPE, _key(row, s)) is None]
        if not pending:
            return RowOutcome(row.line, row.key, "already imported", row.status)
        noted = "".join(f"; {note}" for note in row.notes)
        if dry_run:
            return RowOutcome(
                row.line, row.key, "would import", f"{row.status}: {', '.join(pending)}{noted}"
            )
        try:
            request_id = self._steps(row)
        except DomainError as exc:
            return RowOutcome(row.line, row.key, "rejected", f"{exc.detail} ({exc.rule})")
        return RowOutcome(row.line, row.key, "imported", f"{row.status}{noted}", request_id)

    def _steps(self, row: Row) -> str:
        request_id = self._step(row, "submit", row.submitted_at, lambda: self._submit(row))
        rid = UUID(request_id)
        intake = self.intake
        closed = row.closed_at or row.submitted_at
        note = f"imported as {row.status} ({row.key})"
        steps: dict[str, tuple[datetime | None, Callable[[], str]]] = {
            "accept": (
                row.accepted_at,
                lambda: (
                    intake.accept(
                        rid, row.owner or "", row.size_points, ClassOfService.STANDARD, None
                    ).id
                ),
            ),
            "deliver": (row.delivered_at, lambda: intake.deliver(rid, None, None).id),
            "reject": (closed, lambda: intake.reject(rid, note).id),
            "withdrawn": (closed, lambda: intake.withdraw(self._importer(), rid, note).id),
            "deferred": (closed, lambda: intake.defer(rid, note, None).id),
            "rate": (
                row.rated_at or row.delivered_at,
                lambda: intake.rate(self._rater(row), rid, row.rating or 0, "").id,
            ),
        }
        for step in row.steps[1:]:
            at, command = steps[step]
            self._step(row, step, at or row.submitted_at, command)
        return request_id

    def _step(self, row: Row, step: str, at: datetime, command: Callable[[], str]) -> str:
        key = _key(row, step)
        done = self.log.find_claim(IMPORT_SCOPE, key)
        if done is not None:
            return str(orjson.loads(done.response)["id"])
        fingerprint = hashlib.sha256(f"{row.line}:{row.key}:{step}".encode()).hexdigest()
        request = IdempotencyRequest(IMPORT_SCOPE, key, fingerprint, 200)
        try:
            with acting_as(self.actor, idempotency=request, at=at):
                return command()
        except ClaimTaken as taken:
            return str(orjson.loads(taken.claim.response)["id"])

    def _submit(self, row: Row) -> str:
        description = f"Imported from {row.key}."
        if row.fix_version:
            description += f" Fix version: {row.fix_version}."
        if row.description:
            description += "\n\n" + row.description
        draft = RequestDraft(
            title=row.title,
            description=description[:10_000],
            justification="Imported history.",
            sponsor=row.requester,
            category=Category(row.category),
            subsystems=row.subsystems,
            size_estimate=SizeEstimate(row.size_estimate),
        )
        return self.intake.submit(self._importer(row.requester), draft, row.department).id

    @staticmethod
    def _importer(name: str = "import") -> Principal:
        return Principal(name, name, frozenset({Role.RELEASE_MANAGER}), None, None)

    @staticmethod
    def _rater(row: Row) -> Principal:
        return Principal(
            row.requester, row.requester, frozenset({Role.REQUESTER}), row.department, None
        )


def _key(row: Row, step: str) -> str:
    return f"{row.key}:{step}"


class _Departments:
    """The departments the store knows (its requests' and its users'): a row's is read as
    the store spells it ("sales" as "Sales": the metrics by department would count two),
    and one it does not know is said once, on the first row naming it, with the known
    one it most resembles (a typo would otherwise start a department of its own)."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = sorted(set(known))
        self.spelled = {d.casefold(): d for d in self.known}

    def read(self, row: Row) -> None:
        given = row.department
        spelled = self.spelled.get(given.casefold())
        if spelled is None:
            self.spelled[given.casefold()] = given
            like = difflib.get_close_matches(given, self.known, n=1, cutoff=0.75)
            row.notes.append(
                f"{given!r} is a new department"
                + (f": did you mean {like[0]!r}?" if like else "")
                + (f" (known: {', '.join(self.known)})" if self.known and not like else "")
            )
        elif spelled != given:
            row.department = spelled
            row.notes.append(f"department {given!r} read as {spelled!r}")
