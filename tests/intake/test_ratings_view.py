"""The requests view keeps when each request's latest rating was given, so that lists
of what was rated on some days count what satisfaction counts; a view made before it
kept that time finds it in its history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.intake.application import Intake
from services.intake.domain import ClassOfService
from services.intake.filters import RequestFilter
from services.intake.views import REQUESTS, IntakeViews
from shared.application import acting_as
from shared.platform import Platform
from tests.builders import draft
from tests.conftest import People

FIRST, AGAIN = datetime(2026, 3, 12, 9, 0, tzinfo=UTC), datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def rated_twice(platform: Platform) -> str:
    intake = Intake(platform.log, IntakeViews(platform.log), platform.directory)
    vp = platform.directory.principal("vp.sales")
    assert vp is not None
    with acting_as("vp.sales", at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC)):
        request_id = intake.submit(vp, draft()).id
    with acting_as("rm", at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)):
        intake.accept(uuid.UUID(request_id), "dev.alice", 3, ClassOfService.STANDARD, None)
    with acting_as("railyard", at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC)):
        intake.deliver(uuid.UUID(request_id), None, None)
    for at, score in ((FIRST, 2), (AGAIN, 4)):
        with acting_as("vp.sales", at=at):
            intake.rate(vp, uuid.UUID(request_id), score, "")
    return request_id


def test_a_request_is_listed_on_the_day_of_its_latest_rating(
    platform: Platform, people: People
) -> None:
    request_id = rated_twice(platform)
    views = IntakeViews(platform.log)
    march = views.find(RequestFilter(rated_from=FIRST.date(), rated_to=FIRST.date()))
    april = views.find(RequestFilter(rated_from=AGAIN.date(), rating=4))
    assert march.total == 0  # rated again since: its rating counts in April
    assert [r["id"] for r in april.items] == [request_id]
    assert views.find(RequestFilter(rating=2)).total == 0


def test_a_view_made_before_it_kept_rating_times_finds_them_in_its_history(
    platform: Platform, people: People
) -> None:
    request_id = rated_twice(platform)
    views = IntakeViews(platform.log)
    views.group.catch_up()
    table = platform.log.table(REQUESTS)
    with platform.log.db.transaction(write=True) as cur:
        cur.execute(f"ALTER TABLE {table} DROP COLUMN rated_at")  # as an older view was made
    with platform.log.db.transaction(write=True) as cur:
        views.requests.create(cur)
    found = views.get(request_id)
    assert found is not None
    assert datetime.fromisoformat(found["rated_at"]) == AGAIN
