"""The board's cards: each says what its age counts, and counts accepted work as the
Metrics page's ageing chart does."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from services.intake.application import Intake, RequestDraft
from services.intake.domain import Category, SizeEstimate
from services.intake.views import IntakeViews
from shared.application import acting_as
from tests.web.conftest import Web
from tests.web.test_intake_pages import accept


def card(board: str, title: str) -> str:
    """The board's card of the request titled `title`."""
    (found,) = [c for c in board.split('<a class="kcard')[1:] if title in c]
    return '<a class="kcard' + found.split("</a>")[0]


def submitted_days_ago(web: Web, title: str, days: int) -> str:
    intake = Intake(web.platform.log, IntakeViews(web.platform.log), web.platform.directory)
    requester = web.platform.directory.principal("vp.sales")
    assert requester is not None
    draft = RequestDraft(
        title, "Invoices", "Cash", "VP Sales", Category.IT_PROJECT, ["Billing"],
        SizeEstimate.S, None,
    )  # fmt: skip
    at = datetime.now(UTC) - timedelta(days=days)
    with acting_as("vp.sales", at=at):
        return str(intake.submit(requester, draft).id)


def test_accepted_work_on_the_board_is_aged_since_acceptance_as_the_metrics_ageing_chart(
    web: Web,
) -> None:
    """A request submitted 480 days ago and accepted today read "480 d", marked older than
    60 days, while Metrics' ageing counted 1 day since acceptance: the card says "1 d since
    accepted"; work not accepted yet says it counts since it was submitted."""
    accepted = submitted_days_ago(web, "Accepted only today", 479)
    submitted_days_ago(web, "Still waiting for triage", 479)
    accept(web, accepted)
    with web.client() as client:
        web.sign_in(client, "rm")
        board = html.unescape(client.get("/board").text)
    fresh, old = card(board, "Accepted only today"), card(board, "Still waiting for triage")
    assert "1 d since accepted" in fresh
    assert "very-old" not in fresh.split(">")[0]
    assert "480 d since submitted" in old
    assert "very-old" in old.split(">")[0]
    assert "older than 60 days" in board
    assert "accepted work since its acceptance, as on Metrics" in board
