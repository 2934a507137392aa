"""Intake follows release: a deployed bundle's requests are delivered, all in one save,
exactly once, however the follower dies. Release's fact is appended by contract topic,
as release would append it."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest

from services.intake.application import Intake
from services.intake.reactions import DeliverShippedRequests
from services.intake.views import IntakeViews
from shared import contracts
from shared.store.followers import ReactionRunner
from shared.store.recorders import RailyardPostgresRecorder
from tests.builders import accept, submit
from tests.conftest import Api
from tests.foreign import publish


def deployed(api: Api, request_ids: list[str], change: str = "change-1") -> str:
    bundle = uuid.uuid4()
    publish(
        api.platform.log,
        contracts.BUNDLE_DEPLOYED,
        bundle,
        9,
        actor="railyard",
        change_id=change,
        request_ids=request_ids,
    )
    return str(bundle)


def runner(api: Api) -> ReactionRunner:
    intake = Intake(api.platform.log, IntakeViews(api.platform.log), api.platform.directory)
    return ReactionRunner(api.platform.log, [DeliverShippedRequests(intake)])


def accepted(api: Api, count: int) -> list[str]:
    ids = [submit(api, title=f"Request {n}") for n in range(count)]
    for request_id in ids:
        accept(api, request_id)
    return ids


def deliveries(api: Api, request_id: str) -> list[dict[str, Any]]:
    history = api.get(f"/api/requests/{request_id}", "rm").json()["history"]
    return [h for h in history if h["type"] == "ChangeRequest.Delivered"]


def test_a_deployed_bundle_delivers_every_request_it_shipped(api: Api) -> None:
    requests = accepted(api, 3)
    bundle = deployed(api, requests)
    runner(api).catch_up()
    for request_id in requests:
        (delivered,) = deliveries(api, request_id)
        assert delivered["data"] == {"bundle_id": bundle, "change_id": "change-1"}
        assert delivered["actor"] == "railyard"
        assert api.get(f"/api/requests/{request_id}", "vp.sales").json()["status"] == "delivered"


def test_a_follower_killed_after_delivering_never_delivers_twice(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after its save committed but before it moved on: the restart finds the mark."""
    requests = accepted(api, 3)
    deployed(api, requests)
    first = runner(api)

    def killed(*_: object) -> None:
        raise KeyboardInterrupt("killed before recording its position")

    monkeypatch.setattr(first, "_advance", killed)
    with pytest.raises(KeyboardInterrupt):
        first.catch_up()
    assert all(len(deliveries(api, r)) == 1 for r in requests)
    runner(api).catch_up()
    runner(api).catch_up()
    assert all(len(deliveries(api, r)) == 1 for r in requests)


def test_a_follower_killed_in_the_middle_of_the_save_delivers_all_or_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database write dies after some rows: none of them, nor the mark, remain."""
    requests = accepted(api, 3)
    deployed(api, requests)
    recorder = api.platform.log.recorder
    on_postgres = isinstance(recorder, RailyardPostgresRecorder)
    # Where each backend's recorder writes the rows after the reaction's mark; PostgreSQL
    # does both in one statement (decision 97), run here in a transaction never committed.
    writes_rows = "_append" if on_postgres else "_insert_events"
    original: Any = getattr(recorder, writes_rows)

    def dies_mid_write(c: Any, stored: Any, *args: Any, **kwargs: Any) -> Any:
        if (args[-1] if on_postgres else kwargs.get("mark")) is None:
            return original(c, stored, *args, **kwargs)
        with c.connection.transaction() if on_postgres else contextlib.nullcontext():
            original(c, stored[:1], *args, **kwargs)  # the mark and one delivery are written...
            raise KeyboardInterrupt("killed")  # ...and the process dies

    monkeypatch.setattr(recorder, writes_rows, dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        runner(api).catch_up()
    monkeypatch.undo()
    assert all(deliveries(api, r) == [] for r in requests)
    runner(api).catch_up()
    assert all(len(deliveries(api, r)) == 1 for r in requests)


def test_requests_withdrawn_or_unknown_are_skipped_and_the_rest_delivered(api: Api) -> None:
    kept, withdrawn = accepted(api, 2)
    api.post(f"/api/requests/{withdrawn}/withdraw", "vp.sales", json={"reason": "no longer needed"})
    deployed(api, [kept, withdrawn, str(uuid.uuid4()), "not-an-id"])
    runner(api).catch_up()
    assert len(deliveries(api, kept)) == 1
    assert api.get(f"/api/requests/{withdrawn}", "rm").json()["status"] == "withdrawn"


def test_a_request_already_delivered_is_not_delivered_again(api: Api) -> None:
    (request,) = accepted(api, 1)
    deployed(api, [request], change="first")
    deployed(api, [request], change="second")
    runner(api).catch_up()
    (delivered,) = deliveries(api, request)
    assert delivered["data"]["change_id"] == "first"
