"""Given events, when a command, then new events or a domain error: no database, no web."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from services.intake.domain import (
    Category,
    ChangeRequest,
    ClassOfService,
    DepartmentRanking,
    SizeEstimate,
    Status,
)
from shared.domain import InvalidCommand, NotPermitted, RuleViolation, attributed_to
from shared.settings import DEFAULT_SUBSYSTEMS
from shared.store.log import PlainJSONTranscoder, RailyardMapper
from tests.builders import new_request


@pytest.fixture(autouse=True)
def acting() -> Iterator[None]:
    with attributed_to("vp.sales", "corr-1"):
        yield


def event_types(request: ChangeRequest) -> list[str]:
    return [type(e).__name__ for e in request.collect_events()]


def accepted() -> ChangeRequest:
    request = new_request()
    request.accept(
        owner="dev.alice", size_points=5, class_of_service=ClassOfService.STANDARD, fixed_date=None
    )
    return request


def edit(request: ChangeRequest, department: str = "Sales", **changes: object) -> None:
    values: dict[str, object] = {
        "title": "Bill shock alerts",
        "description": "d",
        "justification": "j",
        "sponsor": "s",
        "category": Category.BUSINESS_PROJECT,
        "subsystems": ["Billing"],
        "size_estimate": SizeEstimate.S,
        "desired_date": None,
        "department": department,
        "catalogue": DEFAULT_SUBSYSTEMS,
    }
    values.update(changes)
    request.edit(**values)  # type: ignore[arg-type]


def test_submission_records_who_submitted_and_when() -> None:
    """Every event names its actor, correlation id and business time."""
    with attributed_to("vp.sales", "corr-9", at=datetime(2025, 1, 6, 9, tzinfo=UTC)):
        request = new_request()
    (submitted,) = request.collect_events()
    assert submitted.actor == "vp.sales"  # type: ignore[attr-defined]
    assert submitted.correlation_id == "corr-9"  # type: ignore[attr-defined]
    assert submitted.timestamp == datetime(2025, 1, 6, 9, tzinfo=UTC)
    assert request.status == Status.SUBMITTED


def test_events_outside_an_attribution_are_refused() -> None:
    """No event may be written without saying who made it."""
    request = new_request()
    with pytest.raises(RuntimeError, match="attributed_to"):
        contextvars.Context().run(request.reject, "no actor")


def test_unknown_subsystem_is_refused() -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_request(subsystems=["Mainframe"])
    assert refused.value.rule == "unknown_subsystem"


def test_subsystems_are_matched_to_the_catalogue_spelling() -> None:
    request = new_request(subsystems=["billing", "BILLING", "crm"])
    assert request.subsystems == ["Billing", "CRM"]


def test_requester_can_edit_until_triage() -> None:
    request = new_request()
    edit(request, title="Bill shock alerts v2")
    assert request.title == "Bill shock alerts v2"


def test_edit_after_acceptance_is_refused() -> None:
    request = accepted()
    with pytest.raises(RuleViolation) as refused:
        edit(request)
    assert refused.value.rule == "edit_after_triage"


def test_another_department_cannot_edit() -> None:
    with pytest.raises(NotPermitted) as refused:
        edit(new_request(), department="Finance")
    assert refused.value.rule == "own_department_only"


def test_triage_twice_is_refused() -> None:
    request = accepted()
    with pytest.raises(RuleViolation) as refused:
        request.reject("too late")
    assert refused.value.rule == "already_triaged"


def test_fixed_date_class_needs_a_date_and_only_it() -> None:
    request = new_request()
    with pytest.raises(InvalidCommand, match="fixed date"):
        request.accept(
            owner="dev", size_points=3, class_of_service=ClassOfService.FIXED_DATE, fixed_date=None
        )
    with pytest.raises(InvalidCommand, match="fixed date"):
        request.accept(
            owner="dev",
            size_points=3,
            class_of_service=ClassOfService.STANDARD,
            fixed_date=date(2027, 1, 1),
        )


def test_size_points_are_bounded() -> None:
    with pytest.raises(InvalidCommand):
        new_request().accept(
            owner="dev", size_points=0, class_of_service=ClassOfService.STANDARD, fixed_date=None
        )


def test_answered_question_returns_request_to_triage_queue() -> None:
    request = new_request()
    request.request_information("Which tariffs?")
    assert request.status == Status.INFO_REQUESTED
    request.provide_information("All postpaid tariffs", "Sales")
    assert request.status.value == "submitted"
    assert event_types(request) == ["Submitted", "InformationRequested", "InformationProvided"]


def test_answer_without_a_question_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        new_request().provide_information("unprompted", "Sales")
    assert refused.value.rule == "no_question_pending"


def test_deferred_request_can_be_triaged_later() -> None:
    request = new_request()
    request.defer("after the billing migration", date(2027, 6, 1))
    request.accept(
        owner="dev", size_points=8, class_of_service=ClassOfService.STANDARD, fixed_date=None
    )
    assert request.status == Status.ACCEPTED


def test_a_deferred_request_can_be_deferred_again_to_a_new_date() -> None:
    """A deferral that comes due may be pushed back; one awaiting an answer may not."""
    request = new_request()
    request.defer("after the billing migration", date(2027, 6, 1))
    request.defer("migration slipped", date(2027, 9, 1))
    assert request.status == Status.DEFERRED
    asked = new_request()
    asked.request_information("Which customers?")
    with pytest.raises(RuleViolation) as refused:
        asked.defer("later", None)
    assert refused.value.rule == "already_triaged"


def test_withdraw_delivered_request_is_refused() -> None:
    request = accepted()
    request.deliver(bundle_id="b1", change_id="c1")
    with pytest.raises(RuleViolation) as refused:
        request.withdraw("changed my mind", "Sales")
    assert refused.value.rule == "withdraw_after_delivery"


def test_withdraw_accepted_request_is_allowed() -> None:
    request = accepted()
    request.withdraw("priorities changed", "Sales")
    assert request.status == Status.WITHDRAWN


def test_request_cannot_duplicate_itself() -> None:
    request = new_request()
    with pytest.raises(InvalidCommand):
        request.mark_duplicate(request, "")


def test_duplicate_points_at_an_open_request() -> None:
    original, copy = new_request(), new_request()
    copy.mark_duplicate(original, "same ask")
    assert copy.status == Status.DUPLICATE
    assert copy.duplicate_of == str(original.id)


def test_delivering_twice_records_one_delivery() -> None:
    """A reaction that sees the same deployment twice never double-delivers."""
    request = accepted()
    request.collect_events()
    assert request.deliver(bundle_id="b1", change_id="c1") is True
    assert request.deliver(bundle_id="b1", change_id="c1") is False
    assert event_types(request) == ["Delivered"]


def test_rating_needs_delivery() -> None:
    with pytest.raises(RuleViolation) as refused:
        accepted().rate(5, "", "Sales")
    assert refused.value.rule == "rate_before_delivery"


def test_a_later_rating_replaces_the_earlier_and_both_stay_in_history() -> None:
    request = accepted()
    request.deliver(bundle_id="b1", change_id=None)
    request.collect_events()
    request.rate(2, "late", "Sales")
    request.rate(4, "works well now", "Sales")
    events = request.collect_events()
    assert request.rating == 4
    assert [e.score for e in events] == [2, 4]  # type: ignore[attr-defined]
    assert events[1].replaces == 2  # type: ignore[attr-defined]


def test_a_rating_given_after_the_version_the_rater_read_is_refused_not_replaced() -> None:
    """A rater shown the request at some version: a rating given since then is named, not
    overwritten; a comment since then is no reason to refuse."""
    request = accepted()
    request.deliver(bundle_id="b1", change_id=None)
    shown = request.version
    request.rate(2, "too slow", "Sales", read_at=shown)
    with pytest.raises(RuleViolation) as refused:
        request.rate(5, "", "Sales", read_at=shown)
    assert refused.value.rule == "rated_meanwhile"
    assert "rated 2/5 (“too slow”) meanwhile" in refused.value.detail
    assert request.rating == 2
    request.comment("thanks", "Sales")
    request.rate(4, "better now", "Sales", read_at=request.version - 1)
    assert request.rating == 4


def test_only_the_requesting_department_rates() -> None:
    request = accepted()
    request.deliver(bundle_id=None, change_id=None)
    with pytest.raises(NotPermitted):
        request.rate(5, "", "Finance")


def test_ranking_refuses_another_departments_request() -> None:
    ranking = DepartmentRanking(department="Sales")
    with pytest.raises(NotPermitted) as refused:
        ranking.rank(["r1"], {"r1": "Finance"}, {"r1": "accepted"})
    assert refused.value.rule == "own_department_only"


def test_ranking_refuses_unaccepted_requests() -> None:
    ranking = DepartmentRanking(department="Sales")
    with pytest.raises(RuleViolation) as refused:
        ranking.rank(["r1"], {"r1": "Sales"}, {"r1": "submitted"})
    assert refused.value.rule == "rank_unaccepted"


def test_ranking_lists_each_request_once() -> None:
    ranking = DepartmentRanking(department="Sales")
    with pytest.raises(InvalidCommand):
        ranking.rank(["r1", "r1"], {"r1": "Sales"}, {"r1": "accepted"})


def test_unchanged_ranking_records_nothing() -> None:
    ranking = DepartmentRanking(department="Sales")
    ranking.rank(["r1"], {"r1": "Sales"}, {"r1": "accepted"})
    ranking.collect_events()
    ranking.rank(["r1"], {"r1": "Sales"}, {"r1": "accepted"})
    assert ranking.collect_events() == []


def test_replaying_stored_events_rebuilds_the_same_request() -> None:
    """Event bodies only assign state, so old history always loads."""
    request = accepted()
    mapper = RailyardMapper(transcoder=PlainJSONTranscoder())
    stored = [mapper.to_stored_event(e) for e in request.collect_events()]
    replayed = None
    for item in stored:
        replayed = mapper.to_domain_event(item).mutate(replayed)  # type: ignore[attr-defined]
    assert replayed is not None
    assert replayed.status == Status.ACCEPTED
    assert replayed.owner == "dev.alice"
    assert replayed.version == request.version


def test_a_comment_changes_nothing_about_where_the_request_stands() -> None:
    request = accepted()
    request.comment("  Any news on the SMS wording?  ", "Sales")
    request.comment("Drafting it this week.", None)  # IT speaks for no department
    assert request.status == Status.ACCEPTED
    assert event_types(request)[-2:] == ["Commented", "Commented"]


def test_a_comment_is_kept_as_typed_without_surrounding_space() -> None:
    request = new_request()
    request.comment("  first line\nsecond line  ", "sales")
    commented = request.collect_events()[-1]
    assert vars(commented)["text"] == "first line\nsecond line"


def test_another_department_cannot_comment_on_a_request() -> None:
    with pytest.raises(NotPermitted) as refused:
        new_request().comment("Ours is more urgent", "Finance")
    assert refused.value.rule == "own_department_only"


@pytest.mark.parametrize(
    ("text", "rule"), [("   ", "comment_required"), ("x" * 5_001, "comment_too_long")]
)
def test_an_empty_or_overlong_comment_is_refused(text: str, rule: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_request().comment(text, None)
    assert refused.value.rule == rule


def test_a_closed_request_can_still_be_commented_on() -> None:
    request = new_request()
    request.reject("not now")
    request.comment("Could we raise it again next quarter?", "Sales")
    assert request.status == Status.REJECTED
