"""Release bundles: given events, when a command, then new events or a domain error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from services.release.domain import BundleStatus, ReleaseBundle, Stage
from shared.domain import (
    InvalidCommand,
    NotPermitted,
    RuleViolation,
    attributed_to,
    business_now,
)
from shared.store.log import PlainJSONTranscoder, RailyardMapper
from tests.release.domain_builders import (
    AFTER_FREEZE,
    BEFORE_FREEZE,
    IN_QA,
    facts,
    march_bundle,
    monthly_train,
    placement,
)


@pytest.fixture(autouse=True)
def acting() -> Iterator[None]:
    with attributed_to("rm", "corr-1", at=BEFORE_FREEZE):
        yield


def event_types(bundle: ReleaseBundle) -> list[str]:
    return [type(e).__name__ for e in bundle.collect_events()]


def bundle_with(*sizes: int, **kwargs: object) -> tuple[ReleaseBundle, list[str]]:
    bundle = march_bundle(**kwargs)  # type: ignore[arg-type]
    ids = []
    for size in sizes:
        request = facts(size)
        bundle.schedule(request, placement(request), None)
        ids.append(request.request_id)
    return bundle, ids


PEOPLE = {"development": "dev.alice", "qa": "qa.quinn"}


def progress(bundle: ReleaseBundle, item: str, stage: Stage, note: str, team: str) -> None:
    """An item's progress recorded by a member of `team` (at the command's business time)."""
    with attributed_to(PEOPLE[team], at=business_now()):
        bundle.record_progress(item, stage, note, team)


def pass_all(bundle: ReleaseBundle) -> None:
    for request_id in list(bundle.items):
        progress(bundle, request_id, Stage.READY_FOR_QA, "", "development")
        progress(bundle, request_id, Stage.QA_PASSED, "", "qa")


def test_train_plans_bundles_with_concrete_milestones() -> None:
    """The March bundle of a second-Tuesday train deploys on 9 March with its milestones."""
    bundle = march_bundle()
    assert bundle.name == "Monthly 2027-03-09"
    assert bundle.deploy_date == "2027-03-09"
    assert bundle.scope_freeze_at == "2027-02-23T17:00:00+00:00"
    assert bundle.qa_start_at == "2027-03-02T09:00:00+00:00"
    assert bundle.window_start == "2027-03-09T20:00:00+00:00"
    assert bundle.status() == BundleStatus.PLANNING


def test_moving_a_bundle_moves_its_milestones_and_records_why() -> None:
    bundle = march_bundle()
    train = monthly_train()
    bundle.move(train.milestones_for(date(2027, 3, 16)), "payroll freeze week")
    assert bundle.deploy_date == "2027-03-16"
    assert bundle.scope_freeze_at == "2027-03-02T17:00:00+00:00"
    moved = bundle.collect_events()[-1]
    assert moved.reason == "payroll freeze week"  # type: ignore[attr-defined]
    assert moved.previous_deploy_date == "2027-03-09"  # type: ignore[attr-defined]


def test_a_move_needs_a_reason_a_new_date_and_a_future_one() -> None:
    bundle, train = march_bundle(), monthly_train()
    with pytest.raises(InvalidCommand, match="reason"):
        bundle.move(train.milestones_for(date(2027, 3, 16)), " ")
    with pytest.raises(RuleViolation) as same:
        bundle.move(train.milestones_for(date(2027, 3, 9)), "no change")
    assert same.value.rule == "date_unchanged"
    with pytest.raises(InvalidCommand) as past:
        bundle.move(train.milestones_for(date(2027, 1, 5)), "back in time")
    assert past.value.rule == "date_in_past"


def test_cancelling_frees_the_bundles_requests_and_closes_it() -> None:
    bundle = march_bundle()
    request = facts()
    slot = placement(request)
    bundle.schedule(request, slot, None)
    bundle.cancel("merged into April", [slot])
    assert bundle.status() == BundleStatus.CANCELLED
    assert slot.bundle_id is None
    with pytest.raises(RuleViolation) as refused:
        bundle.schedule(facts(), placement(facts()), None)
    assert refused.value.rule == "bundle_closed"


def test_only_an_accepted_request_can_be_scheduled() -> None:
    """Scheduling a rejected request is refused, naming its state."""
    bundle = march_bundle()
    rejected = facts(status="rejected")
    with pytest.raises(RuleViolation) as refused:
        bundle.schedule(rejected, placement(rejected), None)
    assert refused.value.rule == "request_not_accepted"
    assert refused.value.extra["state"] == "rejected"
    assert bundle.collect_events()[-1].__class__.__name__ == "Planned"


def test_a_request_in_another_bundle_cannot_be_scheduled_again() -> None:
    march, april = march_bundle(), march_bundle(month=4)
    request = facts()
    slot = placement(request)
    march.schedule(request, slot, None)
    with pytest.raises(RuleViolation) as refused:
        april.schedule(request, slot, None)
    assert refused.value.rule == "scheduled_elsewhere"
    assert refused.value.extra["bundle_id"] == str(march.id)
    with pytest.raises(RuleViolation) as twice:
        march.schedule(request, slot, None)
    assert twice.value.rule == "already_in_bundle"


def test_over_capacity_warns_but_schedules_and_records_the_override_reason() -> None:
    bundle, _ = bundle_with(8)
    big = facts(5)
    warnings = bundle.schedule(big, placement(big), "regulator deadline")
    assert warnings == [{"scope": "total", "load": 13, "capacity": 10}]
    scheduled = bundle.collect_events()[-1]
    assert scheduled.over_capacity is True  # type: ignore[attr-defined]
    assert scheduled.reason == "regulator deadline"  # type: ignore[attr-defined]
    assert big.request_id in bundle.items


def test_subsystem_capacity_counts_a_requests_whole_size_in_each_subsystem_it_touches() -> None:
    bundle = march_bundle(capacity=20, subsystems={"Billing": 6, "CRM": 6})
    both = facts(4, subsystems=["Billing", "CRM"])
    assert bundle.schedule(both, placement(both), None) == []
    crm = facts(3, subsystems=["CRM"])
    assert bundle.schedule(crm, placement(crm), None) == [
        {"scope": "CRM", "load": 7, "capacity": 6}
    ]
    assert bundle.load("Billing") == 4
    portal = facts(1, subsystems=["Customer Portal"])  # CRM is over, but not by its doing
    assert bundle.schedule(portal, placement(portal), None) == []
    assert bundle.collect_events()[-1].over_capacity is False  # type: ignore[attr-defined]


def test_after_the_freeze_date_adding_is_an_exception_that_needs_a_reason() -> None:
    bundle = march_bundle()
    late = facts()
    with attributed_to("rm", at=AFTER_FREEZE):
        assert bundle.status() == BundleStatus.SCOPE_FROZEN
        with pytest.raises(RuleViolation) as refused:
            bundle.schedule(late, placement(late), None)
        assert refused.value.rule == "scope_frozen"
        bundle.schedule(late, placement(late), "fixes a billing outage")
    scheduled = bundle.collect_events()[-1]
    assert scheduled.after_freeze is True  # type: ignore[attr-defined]
    assert scheduled.reason == "fixes a billing outage"  # type: ignore[attr-defined]
    assert scheduled.actor == "rm"  # type: ignore[attr-defined]


def test_an_explicit_freeze_makes_changes_exceptions_before_the_freeze_date() -> None:
    bundle, (first,) = bundle_with(3)
    bundle.freeze("content agreed with the VPs")
    assert bundle.status() == BundleStatus.SCOPE_FROZEN
    with pytest.raises(RuleViolation) as refused:
        bundle.unschedule(first, placement(facts()), "")
    assert refused.value.rule == "scope_frozen"
    bundle.unschedule(first, placement(facts()), "vendor patch late")
    removed = bundle.collect_events()[-1]
    assert type(removed).__name__ == "RequestUnscheduled"
    assert removed.after_freeze is True  # type: ignore[attr-defined]
    with pytest.raises(RuleViolation) as twice:
        bundle.freeze("again")
    assert twice.value.rule == "already_frozen"


def test_before_the_freeze_scope_changes_are_ordinary() -> None:
    bundle, (first,) = bundle_with(3)
    bundle.unschedule(first, placement(facts()), None)
    assert bundle.collect_events()[-1].after_freeze is False  # type: ignore[attr-defined]
    with pytest.raises(RuleViolation) as refused:
        bundle.unschedule(first, placement(facts()), None)
    assert refused.value.rule == "not_in_bundle"


def test_items_move_through_development_and_qa_in_order() -> None:
    bundle, (item,) = bundle_with(3)
    with pytest.raises(RuleViolation) as jump:
        progress(bundle, item, Stage.QA_PASSED, "", "qa")
    assert jump.value.rule == "stage_not_allowed"
    progress(bundle, item, Stage.IN_DEVELOPMENT, "started", "development")
    progress(bundle, item, Stage.READY_FOR_QA, "", "development")
    progress(bundle, item, Stage.QA_FAILED, "totals wrong", "qa")
    progress(bundle, item, Stage.READY_FOR_QA, "fixed", "development")
    progress(bundle, item, Stage.QA_PASSED, "", "qa")
    assert bundle.items[item]["stage"] == Stage.QA_PASSED
    assert bundle.status() == BundleStatus.PLANNING  # QA work alone does not freeze scope


def test_a_qa_tester_cannot_pass_an_item_they_developed() -> None:
    """Separation of duties inside QA: whoever took the item into development or handed
    it to QA may record that it failed, but another member of QA must pass it."""
    bundle, (item,) = bundle_with(3)
    with attributed_to("qa.quinn"):
        bundle.record_progress(item, Stage.IN_DEVELOPMENT, "", "qa")
        bundle.record_progress(item, Stage.READY_FOR_QA, "", "qa")
        with pytest.raises(NotPermitted) as own:
            bundle.record_progress(item, Stage.QA_PASSED, "", "qa")
        assert own.value.rule == "own_work"
        bundle.record_progress(item, Stage.QA_FAILED, "totals off", "qa")
    with attributed_to("dev.alice"):
        bundle.record_progress(item, Stage.READY_FOR_QA, "fixed", "development")
    with attributed_to("qa.quinn"), pytest.raises(NotPermitted):
        bundle.record_progress(item, Stage.QA_PASSED, "", "qa")  # still worked on it
    with attributed_to("qa.rita"):
        bundle.record_progress(item, Stage.QA_PASSED, "", "qa")
    assert bundle.items[item]["stage"] == Stage.QA_PASSED
    assert bundle.items[item]["developed_by"] == ["dev.alice", "qa.quinn"]


def test_only_the_qa_team_records_qa_verdicts_and_signs_off() -> None:
    bundle, (item,) = bundle_with(3)
    progress(bundle, item, Stage.READY_FOR_QA, "", "development")
    with pytest.raises(NotPermitted) as verdict:
        progress(bundle, item, Stage.QA_PASSED, "looks fine to me", "development")
    assert verdict.value.rule == "qa_team_only"
    with pytest.raises(NotPermitted) as sign_off:
        bundle.sign_off("", "development")
    assert sign_off.value.rule == "qa_team_only"


def test_sign_off_needs_a_frozen_scope_and_every_item_passed() -> None:
    bundle, (passed, waiting) = bundle_with(3, 2)
    progress(bundle, passed, Stage.READY_FOR_QA, "", "development")
    progress(bundle, passed, Stage.QA_PASSED, "", "qa")
    with pytest.raises(RuleViolation) as unfrozen:
        bundle.sign_off("", "qa")
    assert unfrozen.value.rule == "scope_not_frozen"
    with attributed_to("qa.quinn", at=IN_QA):
        assert bundle.status() == BundleStatus.IN_QA
        with pytest.raises(RuleViolation) as refused:
            bundle.sign_off("", "qa")
        assert refused.value.rule == "items_not_passed"
        assert refused.value.extra["request_ids"] == [waiting]
        progress(bundle, waiting, Stage.READY_FOR_QA, "", "development")
        progress(bundle, waiting, Stage.QA_PASSED, "", "qa")
        bundle.sign_off("regression suite green", "qa")
        assert bundle.status() == BundleStatus.QA_SIGNED_OFF
    signed = bundle.collect_events()[-1]
    assert signed.request_ids == [passed, waiting]  # type: ignore[attr-defined]


def test_an_empty_bundle_cannot_be_signed_off() -> None:
    bundle = march_bundle()
    with attributed_to("qa.quinn", at=IN_QA), pytest.raises(RuleViolation) as refused:
        bundle.sign_off("", "qa")
    assert refused.value.rule == "bundle_empty"


def test_a_failed_item_can_be_pulled_with_a_reason_so_the_rest_can_ship() -> None:
    bundle, (good, bad) = bundle_with(3, 2)
    with pytest.raises(RuleViolation) as not_failed:
        bundle.pull(bad, placement(facts()), "flaky")
    assert not_failed.value.rule == "item_not_failed"
    with attributed_to("qa.quinn", at=IN_QA):
        progress(bundle, bad, Stage.READY_FOR_QA, "", "development")
        progress(bundle, bad, Stage.QA_FAILED, "rounding errors", "qa")
        bundle.pull(bad, placement(facts()), "rounding errors; next month")
        pass_all(bundle)
        bundle.sign_off("", "qa")
    assert list(bundle.items) == [good]
    pulled = [e for e in bundle.collect_events() if type(e).__name__ == "RequestUnscheduled"]
    assert pulled[0].pulled is True  # type: ignore[attr-defined]
    assert pulled[0].after_freeze is True  # type: ignore[attr-defined]


def test_after_sign_off_scope_and_progress_are_locked() -> None:
    bundle, (item,) = bundle_with(3)
    with attributed_to("qa.quinn", at=IN_QA):
        pass_all(bundle)
        bundle.sign_off("", "qa")
        with pytest.raises(RuleViolation) as add:
            bundle.schedule(facts(), placement(facts()), "late")
        assert add.value.rule == "scope_locked"
        with pytest.raises(RuleViolation) as locked:
            progress(bundle, item, Stage.QA_FAILED, "", "qa")
        assert locked.value.rule == "bundle_signed_off"


def test_approval_needs_sign_off_and_deployment_needs_approval_of_that_change() -> None:
    bundle, _ = bundle_with(3)
    with pytest.raises(RuleViolation) as early:
        bundle.approve_for_deployment("change-1")
    assert early.value.rule == "qa_not_signed_off"
    with pytest.raises(RuleViolation) as unapproved:
        bundle.deploy("change-1")
    assert unapproved.value.rule == "not_approved_for_deployment"
    with attributed_to("qa.quinn", at=IN_QA):
        pass_all(bundle)
        bundle.sign_off("", "qa")
        assert bundle.approve_for_deployment("change-1") is True
        assert bundle.approve_for_deployment("change-1") is False  # seen again: nothing new
        with pytest.raises(RuleViolation) as other:
            bundle.deploy("change-2")
        assert other.value.rule == "change_mismatch"
        assert bundle.deploy("change-1") is True
        assert bundle.deploy("change-1") is False
        assert bundle.status() == BundleStatus.DEPLOYED
    deployed = bundle.collect_events()[-1]
    assert deployed.request_ids == list(bundle.items)  # type: ignore[attr-defined]


def test_a_deployed_bundle_takes_no_more_requests() -> None:
    """Adding to a deployed bundle is refused as closed."""
    bundle, _ = bundle_with(3)
    with attributed_to("qa.quinn", at=IN_QA):
        pass_all(bundle)
        bundle.sign_off("", "qa")
        bundle.approve_for_deployment("c")
        bundle.deploy("c")
        with pytest.raises(RuleViolation) as refused:
            bundle.schedule(facts(), placement(facts()), "one more")
    assert refused.value.rule == "bundle_closed"


def test_a_rolled_back_bundle_reopens_for_fixes_and_needs_a_new_sign_off() -> None:
    bundle, (item,) = bundle_with(3)
    with attributed_to("qa.quinn", at=IN_QA):
        pass_all(bundle)
        bundle.sign_off("", "qa")
        bundle.approve_for_deployment("c1")
        assert bundle.roll_back("c1", "rolled_back", "smoke test failed") is True
        assert bundle.status() == BundleStatus.ROLLED_BACK
        with pytest.raises(RuleViolation):
            bundle.approve_for_deployment("c2")
        progress(bundle, item, Stage.QA_FAILED, "found the cause", "qa")
        progress(bundle, item, Stage.READY_FOR_QA, "", "development")
        progress(bundle, item, Stage.QA_PASSED, "", "qa")
        bundle.sign_off("fixed", "qa")
        assert bundle.approve_for_deployment("c2") is True


def test_status_follows_the_clock_through_freeze_and_qa_start() -> None:
    bundle = march_bundle()
    assert bundle.status(BEFORE_FREEZE) == BundleStatus.PLANNING
    assert bundle.status(AFTER_FREEZE) == BundleStatus.SCOPE_FROZEN
    assert bundle.status(IN_QA) == BundleStatus.IN_QA


def test_bundle_events_are_plain_json_and_replay_to_the_same_state() -> None:
    """Every event survives the store's JSON and rebuilds the same bundle."""
    bundle, _ = bundle_with(3, 4, capacity=5, subsystems={"Billing": 4})
    mapper = RailyardMapper(transcoder=PlainJSONTranscoder())
    events = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in bundle.collect_events()]
    replayed: ReleaseBundle | None = None
    for domain_event in events:
        replayed = domain_event.mutate(replayed)  # type: ignore[attr-defined]
    assert replayed is not None
    assert replayed.items.keys() == bundle.items.keys()
    assert replayed.capacity_warnings() == bundle.capacity_warnings()
