"""Trains, bundles and scope over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest

from tests.change_control.builders import change_payload
from tests.conftest import Api
from tests.release.builders import (
    accepted_request,
    define_train,
    event_count,
    first_bundle,
    schedule,
    scheduled,
    train_payload,
)

PROBLEM = "application/problem+json"


def test_release_manager_defines_a_monthly_train_and_its_bundles_are_planned(api: Api) -> None:
    """A second-Tuesday train plans its next three bundles with concrete milestone dates."""
    train = define_train(api)
    assert len(train["bundle_ids"]) == 3
    detail = api.get(f"/api/trains/{train['id']}", "vp.sales").json()
    assert detail["describes"] == "monthly on the second Tuesday"
    dates = [date.fromisoformat(b["deploy_date"]) for b in detail["bundles"]]
    assert all(d.weekday() == 1 and 8 <= d.day <= 14 for d in dates)
    assert [d.isoformat() for d in dates] == detail["next_dates"][:3]
    first = detail["bundles"][0]
    assert first["status"] == "planning"
    assert first["name"] == f"Monthly {first['deploy_date']}"
    freeze = date.fromisoformat(first["scope_freeze_at"][:10])
    assert freeze == dates[0] - timedelta(days=14)
    assert first["window_start"].startswith(first["deploy_date"] + "T20:00")


def test_every_n_weeks_train_plans_bundles_on_its_cycle(api: Api) -> None:
    start = date.fromisoformat(train_payload()["cadence"]["start_date"])
    cadence = {"kind": "every_n_weeks", "interval_weeks": 2, "start_date": start.isoformat()}
    train = define_train(api, name="Fortnightly", cadence=cadence, generate=2)
    bundles = api.get("/api/bundles", "rm", params={"train_id": train["id"]}).json()
    assert [b["deploy_date"] for b in bundles] == [
        start.isoformat(),
        (start + timedelta(weeks=2)).isoformat(),
    ]


def test_generating_again_plans_only_the_slots_not_planned_yet(api: Api) -> None:
    train = define_train(api, generate=2)
    more = api.post(f"/api/trains/{train['id']}/bundles", "rm", json={"count": 3})
    assert more.status_code == 201
    assert len(more.json()["bundle_ids"]) == 1
    assert more.headers["location"] == f"/api/trains/{train['id']}"
    again = api.post(f"/api/trains/{train['id']}/bundles", "rm", json={"count": 3})
    assert again.json()["bundle_ids"] == []
    assert len(api.get("/api/bundles", "rm").json()) == 3


def test_generating_when_every_date_has_a_bundle_is_200_naming_them_not_201(api: Api) -> None:
    """Nothing was made: not 201 Created with an empty list and no Location, but 200 with
    the bundles that were already there."""
    train = define_train(api, generate=2)
    again = api.post(f"/api/trains/{train['id']}/bundles", "rm", json={"count": 2})
    assert again.status_code == 200, again.text
    assert "location" not in again.headers
    assert again.json()["bundle_ids"] == []
    assert again.json()["next_bundle_ids"] == train["bundle_ids"]


def test_a_second_train_with_the_same_name_is_409(api: Api) -> None:
    define_train(api)
    before = event_count(api)
    response = api.post("/api/trains", "rm", json=train_payload(name="monthly"))
    assert response.status_code == 409
    assert response.json()["rule"] == "train_exists"
    assert event_count(api) == before


def test_a_train_starting_years_away_is_refused_as_a_slip_of_the_year(api: Api) -> None:
    """A train in 9999 was accepted, and then neither it nor its bundles could be read."""
    payload = train_payload()
    payload["cadence"]["start_date"] = "9999-12-01"
    refused = api.post("/api/trains", "rm", json=payload)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "date_too_far"
    assert "9999-12-01 is over two years away: check the year" in refused.json()["detail"]
    assert api.get("/api/trains", "rm").json() == []


def test_a_train_starting_more_than_a_year_ago_is_refused_as_a_slip_of_the_year(
    api: Api,
) -> None:
    """1900-01-01 was accepted, and its first bundle was planned already past its freeze,
    in QA with nothing in it."""
    payload = train_payload()
    payload["cadence"]["start_date"] = "1900-01-01"
    refused = api.post("/api/trains", "rm", json=payload)
    assert (refused.status_code, refused.json()["rule"]) == (422, "date_too_long_ago")
    assert refused.json()["detail"].startswith("1900-01-01 is more than a year ago")
    assert api.get("/api/trains", "rm").json() == []


def test_bad_cadence_and_milestones_are_422(api: Api) -> None:
    fifth = train_payload()
    fifth["cadence"]["week_of_month"] = 5
    assert api.post("/api/trains", "rm", json=fifth).status_code == 422
    backwards = train_payload(
        milestones={"qa_start": {"days": -20, "time": "09:00"}}, subsystem_capacity={"Mainframe": 3}
    )
    response = api.post("/api/trains", "rm", json=backwards)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["rule"] == "milestones_out_of_order"
    unknown = train_payload(subsystem_capacity={"Mainframe": 3})
    assert api.post("/api/trains", "rm", json=unknown).json()["rule"] == "unknown_subsystem"


@pytest.mark.parametrize("person", ["vp.sales", "dev.alice", "qa.quinn", "cab.carl"])
def test_only_release_managers_plan_freeze_and_change_scope(api: Api, person: str) -> None:
    """Every planning route is 403 for anyone else, and writes nothing."""
    bundle = first_bundle(api)
    request = accepted_request(api)
    train = api.get("/api/trains", "rm").json()[0]["id"]
    before = event_count(api)
    attempts = [
        ("/api/trains", train_payload(name="Other")),
        (f"/api/trains/{train}/bundles", {"count": 1}),
        (f"/api/bundles/{bundle}/requests", {"request_id": request}),
        (f"/api/bundles/{bundle}/requests/{request}/remove", {}),
        (f"/api/bundles/{bundle}/requests/{request}/pull", {"reason": "x"}),
        (f"/api/bundles/{bundle}/freeze", {}),
        (f"/api/bundles/{bundle}/move", {"deploy_date": "2099-01-06", "reason": "x"}),
        (f"/api/bundles/{bundle}/cancel", {"reason": "x"}),
        (f"/api/bundles/{bundle}/capacity", {"capacity_points": 5}),
        ("/api/plan/apply", {"items": [{"request_id": request, "bundle_id": bundle}]}),
    ]
    for path, body in attempts:
        response = api.post(path, person, json=body)
        assert response.status_code == 403, path
        assert response.json()["rule"] == "role_required"
    assert event_count(api) == before


def test_everyone_reads_trains_and_bundles(api: Api) -> None:
    bundle = first_bundle(api)
    for person in ("vp.care", "dev.alice", "metrics.mo", "pipeline"):
        assert api.get("/api/trains", person).status_code == 200
        assert api.get(f"/api/bundles/{bundle}", person).status_code == 200
        assert api.get(f"/api/bundles/{bundle}/history", person).status_code == 200
    assert api.client.get(f"/api/bundles/{bundle}").status_code == 401


def test_scheduling_a_rejected_request_is_409_and_writes_nothing(api: Api) -> None:
    from tests.builders import submit

    bundle = first_bundle(api)
    rejected = submit(api)
    api.post(f"/api/requests/{rejected}/reject", "rm", json={"reason": "out of scope"})
    before = event_count(api)
    response = schedule(api, bundle, rejected)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["rule"] == "request_not_accepted"
    assert response.json()["state"] == "rejected"
    assert event_count(api) == before


def test_a_request_scheduled_in_one_bundle_cannot_join_another(api: Api) -> None:
    train = define_train(api)
    first, second = train["bundle_ids"][:2]
    request = accepted_request(api)
    scheduled(api, first, request)
    before = event_count(api)
    response = schedule(api, second, request)
    assert response.status_code == 409
    assert response.json()["rule"] == "scheduled_elsewhere"
    assert response.json()["bundle_id"] == first
    assert event_count(api) == before


def test_unknown_request_or_bundle_is_404(api: Api) -> None:
    bundle = first_bundle(api)
    missing = schedule(api, bundle, str(uuid.uuid4()))
    assert missing.status_code == 404
    assert missing.json()["rule"] == "change_request_not_found"
    request = accepted_request(api)
    assert schedule(api, str(uuid.uuid4()), request).json()["rule"] == "release_bundle_not_found"
    assert api.get(f"/api/bundles/{uuid.uuid4()}", "rm").status_code == 404
    assert api.get("/api/bundles/not-a-uuid", "rm").status_code == 422


def test_over_capacity_is_a_warning_and_the_override_reason_is_recorded(api: Api) -> None:
    bundle = first_bundle(api, capacity_points=10, subsystem_capacity={"Billing": 6})
    scheduled(api, bundle, accepted_request(api, size=5))
    over = scheduled(api, bundle, accepted_request(api, size=4), reason="board asked for it")
    assert over["warnings"] == [{"scope": "Billing", "load": 9, "capacity": 6}]
    detail = api.get(f"/api/bundles/{bundle}", "rm").json()
    assert detail["load"] == 9
    assert detail["subsystem_load"] == {"Billing": 9}
    assert detail["capacity_warnings"] == [{"scope": "Billing", "load": 9, "capacity": 6}]
    last = detail["items"][-1]
    assert (last["over_capacity"], last["reason"]) == (True, "board asked for it")


def test_scheduling_past_the_departments_ranking_says_which_requests_it_went_ahead_of(
    api: Api,
) -> None:
    """The ranking is there against private deals: a request scheduled before ones its
    department ranks above it, which no bundle holds, is not refused (the release manager
    may have reasons) but the answer names them."""
    bundle = first_bundle(api)
    first, second, third = (accepted_request(api, size=2) for _ in range(3))
    urgent = accepted_request(api, size=2, class_of_service="expedite")
    references = {r["id"]: r["reference"] for r in api.get("/api/requests", "rm").json()["items"]}
    assert scheduled(api, bundle, third)["ahead_of_rank"] == [
        references[first],
        references[second],
    ]
    assert scheduled(api, bundle, first)["ahead_of_rank"] == []
    assert scheduled(api, bundle, second)["ahead_of_rank"] == []
    assert scheduled(api, bundle, urgent)["ahead_of_rank"] == []  # not ordered by rank


def test_capacity_can_change_with_a_reason(api: Api) -> None:
    bundle = first_bundle(api)
    response = api.post(
        f"/api/bundles/{bundle}/capacity",
        "rm",
        json={"capacity_points": 12, "subsystem_capacity": {"crm": 4}, "reason": "holidays"},
    )
    assert response.status_code == 200, response.text
    detail = api.get(f"/api/bundles/{bundle}", "rm").json()
    assert (detail["capacity_points"], detail["subsystem_capacity"]) == (12, {"CRM": 4})


def test_a_move_warns_of_the_release_change_to_revise_and_refuses_a_slip_of_the_year(
    api: Api,
) -> None:
    """The bundle's release change awaits the CAB with the old window: the move says to
    revise it. Two years ahead is as far as a bundle moves (as a change window)."""
    train = define_train(api)
    first = train["bundle_ids"][0]
    change = change_payload(change_type="release_deployment", bundle_id=first,
                            title="Deploy the monthly release")  # fmt: skip
    del change["window_start"], change["window_end"]  # the bundle's window
    assert api.post("/api/changes", "rm", json=change).status_code == 201
    old_date = api.get(f"/api/bundles/{first}", "rm").json()["deploy_date"]
    new_date = (date.fromisoformat(old_date) + timedelta(days=6)).isoformat()
    moved = api.post(f"/api/bundles/{first}/move", "rm",
                     json={"deploy_date": new_date, "reason": "ops team away"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["warnings"] == [
        "its release deployment change “Deploy the monthly release” was planned for the old"
        " date: revise its window to the new one, which the CAB will check"
    ]
    far = (date.today() + timedelta(days=3 * 365)).isoformat()
    refused = api.post(f"/api/bundles/{first}/move", "rm",
                       json={"deploy_date": far, "reason": "typo"})  # fmt: skip
    assert (refused.status_code, refused.json()["rule"]) == (422, "date_too_far")
    assert "check the year" in refused.json()["detail"]


def test_scheduling_a_fixed_date_request_into_a_later_bundle_says_the_promise_is_missed(
    api: Api,
) -> None:
    """Promised for a date before the bundle deploys: scheduled (the release manager may
    know better), but the answer and the bundle's page name the date it misses."""
    first, second = define_train(api)["bundle_ids"][:2]
    deploys = date.fromisoformat(api.get(f"/api/bundles/{second}", "rm").json()["deploy_date"])
    promised = (deploys - timedelta(days=1)).isoformat()
    request = accepted_request(api, class_of_service="fixed_date", fixed_date=promised)
    assert scheduled(api, second, request)["misses_fixed_date"] == promised
    [item] = api.get(f"/api/bundles/{second}", "rm").json()["items"]
    assert (item["fixed_date"], item["misses_fixed_date"]) == (promised, True)
    on_time = accepted_request(api, class_of_service="fixed_date", fixed_date=promised)
    assert scheduled(api, first, on_time)["misses_fixed_date"] is None


def test_a_move_onto_another_bundles_day_says_so(api: Api) -> None:
    first, second = define_train(api)["bundle_ids"][:2]
    other = api.get(f"/api/bundles/{second}", "rm").json()
    moved = api.post(f"/api/bundles/{first}/move", "rm",
                     json={"deploy_date": other["deploy_date"], "reason": "merge"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert f"{other['name']} deploys on {other['deploy_date']} too" in moved.json()["warnings"]


def test_moving_and_cancelling_show_in_the_bundles_history(api: Api) -> None:
    train = define_train(api)
    first, second = train["bundle_ids"][:2]
    old_date = api.get(f"/api/bundles/{first}", "rm").json()["deploy_date"]
    new_date = (date.fromisoformat(old_date) + timedelta(days=7)).isoformat()
    moved = api.post(
        f"/api/bundles/{first}/move",
        "rm",
        json={"deploy_date": new_date, "reason": "data centre move"},
    )
    assert moved.status_code == 200, moved.text
    detail = api.get(f"/api/bundles/{first}", "vp.sales").json()
    assert (detail["deploy_date"], detail["moves"]) == (new_date, 1)
    assert detail["scope_freeze_at"].startswith(
        (date.fromisoformat(new_date) - timedelta(days=14)).isoformat()
    )
    request = accepted_request(api)
    scheduled(api, second, request)
    cancelled = api.post(f"/api/bundles/{second}/cancel", "rm", json={"reason": "merged"})
    assert cancelled.json()["status"] == "cancelled"
    history = api.get(f"/api/bundles/{first}/history", "vp.sales").json()
    assert history[-1]["type"] == "ReleaseBundle.Moved"
    assert history[-1]["summary"] == f"moved from {old_date} to {new_date}: data centre move"
    assert history[-1]["actor"] == "rm"
    assert api.get(f"/api/bundles/{second}/history", "rm").json()[-1]["summary"] == (
        "cancelled: merged"
    )
    # The cancelled bundle's request is free again; the cancelled bundle takes nothing.
    scheduled(api, first, request)
    again = schedule(api, second, accepted_request(api))
    assert again.json()["rule"] == "bundle_closed"


def test_after_a_freeze_changes_are_exceptions_with_reasons_and_count_as_churn(api: Api) -> None:
    bundle = first_bundle(api)
    kept, dropped = accepted_request(api), accepted_request(api)
    scheduled(api, bundle, kept)
    scheduled(api, bundle, dropped)
    frozen = api.post(f"/api/bundles/{bundle}/freeze", "rm", json={"note": "agreed"})
    assert frozen.json()["status"] == "scope_frozen"
    late = accepted_request(api, as_="vp.care")
    before = event_count(api)
    refused = schedule(api, bundle, late)
    assert refused.status_code == 409
    assert refused.json()["rule"] == "scope_frozen"
    assert event_count(api) == before
    assert scheduled(api, bundle, late, reason="regulator deadline")["after_freeze"] is True
    removed = api.post(
        f"/api/bundles/{bundle}/requests/{dropped}/remove", "rm", json={"reason": "not ready"}
    )
    assert removed.json()["after_freeze"] is True
    churn = api.get(f"/api/bundles/{bundle}/churn", "vp.sales").json()
    assert (churn["added_after_freeze"], churn["removed_after_freeze"]) == (1, 1)
    assert [(c["kind"], c["reason"], c["actor"]) for c in churn["changes"]] == [
        ("added", "regulator deadline", "rm"),
        ("removed", "not ready", "rm"),
    ]
    summary = api.get("/api/bundles", "rm").json()[0]
    assert (summary["added_after_freeze"], summary["removed_after_freeze"]) == (1, 1)


def test_retried_scheduling_with_the_same_key_answers_the_same_and_writes_nothing(
    api: Api,
) -> None:
    bundle = first_bundle(api)
    request = accepted_request(api)
    body = {"request_id": request}
    first = api.post(f"/api/bundles/{bundle}/requests", "rm", json=body, key="sched-1")
    before = event_count(api)
    again = api.post(f"/api/bundles/{bundle}/requests", "rm", json=body, key="sched-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert event_count(api) == before


def test_unknown_fields_are_refused(api: Api) -> None:
    bundle = first_bundle(api)
    response = api.post(
        f"/api/bundles/{bundle}/requests",
        "rm",
        json={"request_id": accepted_request(api), "after_freeze": False},
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"after_freeze"}


def test_two_bundles_taking_the_same_request_at_once_never_both_succeed(api: Api) -> None:
    """The request's placement is saved with the bundle: one writer wins, one is told."""
    train = define_train(api)
    bundles = train["bundle_ids"][:2]
    request = accepted_request(api)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def take(bundle: str) -> None:
        barrier.wait()
        statuses.append(schedule(api, bundle, request).status_code)

    threads = [threading.Thread(target=take, args=(b,)) for b in bundles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    holding = [b for b in bundles if api.get(f"/api/bundles/{b}", "rm").json()["item_count"]]
    assert len(holding) == 1
