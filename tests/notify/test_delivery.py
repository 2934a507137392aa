"""Webhook deliveries: signed, at least once, never lost, never re-sent once acknowledged,
and no bad endpoint blocks another."""

from __future__ import annotations

import time

from services.notify.dispatch import Dispatcher
from services.notify.email import EmailSender
from tests.notify.conftest import Notify, submit
from tests.notify.receiver import receiver


def test_every_matching_event_is_delivered_signed(notify: Notify) -> None:
    with receiver() as hook:
        _, secret = notify.register(hook.url, ["ChangeRequest.Submitted"])
        hook.secret = secret
        submit(notify.platform, "One")
        submit(notify.platform, "Two")
        notify.deliver()
        assert len(hook.received) == 2
        assert hook.bad_signatures == 0
        # Up to max_in_flight sends overlap, so arrival order is not promised; receivers
        # order and de-duplicate by the position header.
        assert len(set(hook.positions)) == 2

        assert all(
            r.headers["Railyard-Event-Type"] == "ChangeRequest.Submitted" for r in hook.received
        )


def test_a_receiver_down_for_a_while_gets_every_event_once_it_is_up(notify: Notify) -> None:
    with receiver(up=False) as hook:
        endpoint_id, secret = notify.register(hook.url)
        hook.secret = secret
        for n in range(5):
            submit(notify.platform, f"Request {n}")
        notify.deliver()  # refused connections: every delivery waits to be retried
        assert hook.received == []
        rows = notify.outbox(endpoint_id)
        assert {r["status"] for r in rows} == {"pending"}
        assert all(r["attempts"] == 1 for r in rows)
        hook.up()
        deadline = time.monotonic() + 10
        while len(hook.received) < 5 and time.monotonic() < deadline:
            notify.dispatcher.run_once(wait=True)
            time.sleep(0.05)
        assert sorted(hook.positions) == sorted(int(r["position"]) for r in rows)
        assert hook.bad_signatures == 0


def test_a_restarted_dispatcher_never_resends_what_was_acknowledged(notify: Notify) -> None:
    with receiver() as hook:
        notify.register(hook.url)
        submit(notify.platform)
        notify.deliver()
        assert len(hook.received) == 1
        restarted = Dispatcher(
            notify.platform.log,
            notify.dispatcher.master_key,
            EmailSender(notify.platform.settings),
            policy=notify.dispatcher.policy,
        )
        restarted.setup()
        notify.follow_log()
        restarted.run_once(wait=True)
        restarted.pool.shutdown(wait=True)
        assert len(hook.received) == 1


def test_enqueueing_is_exactly_once_even_when_the_log_is_followed_again(notify: Notify) -> None:
    with receiver() as hook:
        endpoint_id, _ = notify.register(hook.url)
        submit(notify.platform)
        notify.follow_log()
        notify.service.group.rebuild()  # a worker folding the whole log again
        assert len(notify.outbox(endpoint_id)) == 1


def test_failing_deliveries_retry_then_park_as_dead_letters_that_can_be_resent(
    notify: Notify,
) -> None:
    with receiver(mode="fail") as hook:
        endpoint_id, _ = notify.register(hook.url)
        submit(notify.platform)
        deadline = time.monotonic() + 10
        notify.follow_log()
        while time.monotonic() < deadline:
            notify.dispatcher.run_once(wait=True)
            rows = notify.outbox(endpoint_id)
            if rows[0]["status"] == "dead":
                break
            time.sleep(0.05)
        (row,) = notify.outbox(endpoint_id)
        assert row["status"] == "dead"
        assert int(row["attempts"]) > 1
        assert "500" in str(row["last_error"])
        attempts = notify.service.views.attempts(str(row["delivery_id"]))
        assert len(attempts) == row["attempts"]
        hook.mode = "ok"
        assert notify.notifications.resend(str(row["delivery_id"]))
        notify.dispatcher.run_once(wait=True)
        assert notify.outbox(endpoint_id)[0]["status"] == "delivered"
        assert len(hook.received) == 1


def test_a_slow_endpoint_does_not_hold_up_another(notify: Notify) -> None:
    with receiver(mode="slow", slow_s=3.0) as slow, receiver() as fast:
        notify.register(slow.url, timeout_s=1.0, max_in_flight=1)
        notify.register(fast.url)
        for n in range(3):
            submit(notify.platform, f"R{n}")
        notify.follow_log()
        notify.dispatcher.run_once()  # do not wait: the slow sends stay in flight
        deadline = time.monotonic() + 5
        while len(fast.received) < 3 and time.monotonic() < deadline:
            notify.dispatcher.run_once()
            time.sleep(0.05)
        assert len(fast.received) == 3
        assert slow.max_in_flight_seen <= 1
        notify.dispatcher.drain()


def test_per_endpoint_concurrency_is_limited(notify: Notify) -> None:
    with receiver(mode="slow", slow_s=0.3) as hook:
        notify.register(hook.url, max_in_flight=2)
        for n in range(6):
            submit(notify.platform, f"R{n}")
        deadline = time.monotonic() + 10
        notify.follow_log()
        while len(hook.received) < 6 and time.monotonic() < deadline:
            notify.dispatcher.run_once()
            time.sleep(0.02)
        notify.dispatcher.drain()
        assert len(hook.received) == 6
        assert hook.max_in_flight_seen == 2


def test_redirects_are_not_followed(notify: Notify) -> None:
    with receiver(mode="redirect") as hook:
        endpoint_id, _ = notify.register(hook.url)
        submit(notify.platform)
        notify.deliver()
        (row,) = notify.outbox(endpoint_id)
        assert row["status"] == "pending"
        assert "redirect" in str(row["last_error"])


def test_paused_endpoint_keeps_its_deliveries_until_resumed(notify: Notify) -> None:
    import uuid

    from shared.application import acting_as

    with receiver() as hook:
        endpoint_id, _ = notify.register(hook.url)
        with acting_as("admin"):
            notify.notifications.pause_endpoint(uuid.UUID(endpoint_id), "maintenance")
        submit(notify.platform)
        notify.deliver()
        assert hook.received == []
        with acting_as("admin"):
            notify.notifications.resume_endpoint(uuid.UUID(endpoint_id))
        notify.deliver()
        assert len(hook.received) == 1


def test_a_paused_endpoints_backlog_does_not_hold_up_other_deliveries(notify: Notify) -> None:
    """Hundreds of deliveries waiting for a paused endpoint: another endpoint still gets
    the next event at once."""
    import uuid

    from shared.application import acting_as

    with receiver() as paused, receiver() as live:
        paused_id, _ = notify.register(paused.url, ["*"])
        with acting_as("admin"):
            notify.notifications.pause_endpoint(uuid.UUID(paused_id), "maintenance")
        for n in range(210):
            submit(notify.platform, f"While paused {n}")
        notify.register(live.url, ["ChangeRequest.Submitted"])
        submit(notify.platform, "After the live endpoint joined")
        notify.deliver()
        assert len(notify.outbox(paused_id)) > 200
        assert paused.received == []
        assert len(live.received) == 1


def test_a_slow_endpoints_backlog_does_not_hold_up_other_deliveries(notify: Notify) -> None:
    """A slow receiver with hundreds of deliveries due: the next event still reaches
    another endpoint while the slow one works through its backlog."""
    with receiver(mode="slow", slow_s=2.0) as slow, receiver() as live:
        notify.register(slow.url, ["*"], timeout_s=5.0, max_in_flight=1)
        for n in range(210):
            submit(notify.platform, f"Queued for the slow one {n}")
        notify.register(live.url, ["ChangeRequest.Submitted"])
        submit(notify.platform, "After the live endpoint joined")
        notify.follow_log()
        deadline = time.monotonic() + 5
        while not live.received and time.monotonic() < deadline:
            notify.dispatcher.run_once()  # do not wait: the slow send stays in flight
            time.sleep(0.05)
        assert len(live.received) == 1
        assert slow.max_in_flight_seen <= 1
        notify.dispatcher.drain()
