"""The duplicate check sees every submission answered before it, in any process, without
catching the requests view up (decision 0084): two platforms on one store stand for two
API processes, and nothing follows the log in the background."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from services.intake.application import Intake
from services.intake.open_titles import TAIL_FOLD_LIMIT
from services.intake.views import IntakeViews
from shared.application import acting_as
from shared.identity.domain import Principal
from shared.platform import Platform
from tests.builders import draft, new_request
from tests.conftest import BACKENDS, make_settings


class Process:
    """What one API process holds: its own pool, views and use cases."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.views = IntakeViews(platform.log)
        self.intake = Intake(platform.log, self.views, platform.directory)

    def caller(self, username: str) -> Principal:
        principal = self.platform.directory.principal(username)
        assert principal is not None
        return principal

    def submit(self, title: str, as_: str = "vp.sales") -> tuple[str, list[str]]:
        with acting_as(as_):
            submitted = self.intake.submit(self.caller(as_), draft(title=title))
        return submitted.id, [d["id"] for d in submitted.possible_duplicates]

    def withdraw_and_retitle(self, withdrawn: str, retitled: str, title: str) -> None:
        with acting_as("vp.sales"):
            self.intake.withdraw(self.caller("vp.sales"), UUID(withdrawn), "not needed")
            self.intake.edit(self.caller("vp.sales"), UUID(retitled), draft(title=title))

    def view_position(self) -> int:
        return self.views.group.positions()[self.views.requests.name]


@contextmanager
def two_processes(
    backend: str, tmp_path: Path, **overrides: Any
) -> Iterator[tuple[Process, Process]]:
    for settings in make_settings(backend, tmp_path, **overrides):
        first, second = Platform.build(settings), Platform.build(settings)
        try:
            with acting_as("test-setup"):
                for name, department in (("vp.sales", "Sales"), ("vp.care", "Customer Care")):
                    first.identity.register(name, name, ["requester"], department)
            yield Process(first), Process(second)
        finally:
            second.close()
            first.close()


@pytest.fixture(params=BACKENDS)
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Process, Process]]:
    with two_processes(str(request.param), tmp_path) as pair:
        yield pair


def test_a_submission_answered_by_one_process_is_a_possible_duplicate_in_another(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    first, _ = a.submit("Bill shock alerts by SMS")
    position = b.view_position()
    _, duplicates = b.submit("SMS bill shock alerts", as_="vp.care")
    assert duplicates == [first]
    # ... read from the log's tail: the check wrote nothing, not even the view's position.
    assert b.view_position() == position


def test_a_request_withdrawn_or_retitled_in_another_process_is_judged_as_it_now_is(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    withdrawn, _ = a.submit("Bill shock alerts by SMS")
    retitled, _ = a.submit("Prepaid top-ups in the portal")
    a.withdraw_and_retitle(withdrawn, retitled, "Bill shock alerts by e-mail")
    _, duplicates = b.submit("Bill shock alerts by SMS", as_="vp.care")
    assert duplicates == [retitled]


def test_the_open_titles_read_from_the_tail_are_the_views_once_caught_up(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    ids = [a.submit(f"Roaming charges report {n}")[0] for n in range(5)]
    with acting_as("vp.sales"):
        a.intake.withdraw(a.caller("vp.sales"), UUID(ids[1]), "merged")
    folded = sorted(b.views.open_titles(), key=lambda r: r["id"])
    assert {r["id"] for r in folded} == set(ids) - {ids[1]}
    b.views.group.catch_up()
    assert sorted(b.views.open_titles(), key=lambda r: r["id"]) == folded


def test_a_long_tail_catches_the_view_up_once_and_misses_nothing(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    with acting_as("vp.sales"):  # saved straight to the log: no duplicate check catches up
        a.platform.log.save(
            *(new_request(title=f"Number recycling batch {n}") for n in range(TAIL_FOLD_LIMIT + 5))
        )
    first_position = b.view_position()
    target, _ = a.submit("Fraud flags for business accounts")
    _, duplicates = b.submit("Fraud flags for business account", as_="vp.care")
    assert duplicates == [target]
    assert b.view_position() > first_position  # caught up rather than folding it all


def test_a_process_that_checked_before_sees_everything_another_did_since(
    processes: tuple[Process, Process],
) -> None:
    """The second check of a process starts from what it folded at the first and reads
    only the log since (decision 0098): submissions, withdrawals and new titles from the
    other process all count, and the result is the view's once caught up."""
    a, b = processes
    b.submit("Dunning letters by e-mail", as_="vp.care")  # b now knows the open requests
    withdrawn, _ = a.submit("Bill shock alerts by SMS")
    retitled, _ = a.submit("Prepaid top-ups in the portal")
    fresh, _ = a.submit("Bill shock alerts for business accounts")
    a.withdraw_and_retitle(withdrawn, retitled, "Bill shock alerts by e-mail")
    position = b.view_position()
    _, duplicates = b.submit("Bill shock alerts by SMS", as_="vp.care")
    assert set(duplicates) == {retitled, fresh}
    assert b.view_position() == position  # read from the log since its last check
    folded = sorted(b.views.open_titles(), key=lambda r: r["id"])
    b.views.group.catch_up()
    a.views.group.catch_up()
    assert folded == sorted(a.views.open_titles(), key=lambda r: r["id"])
    assert withdrawn not in {r["id"] for r in folded}


def test_a_long_tail_since_a_process_last_checked_is_read_from_the_caught_up_view(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    b.submit("Dunning letters by e-mail", as_="vp.care")
    target, _ = a.submit("Fraud flags for business accounts")
    with acting_as("vp.sales"):
        a.platform.log.save(
            *(new_request(title=f"Number recycling batch {n}") for n in range(TAIL_FOLD_LIMIT + 5))
        )
    first_position = b.view_position()
    _, duplicates = b.submit("Fraud flags for business account", as_="vp.care")
    assert duplicates == [target]
    assert b.view_position() > first_position  # caught up rather than folding it all
    assert len(b.views.open_titles()) == TAIL_FOLD_LIMIT + 8
