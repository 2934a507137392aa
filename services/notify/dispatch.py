"""Sends what the notifier enqueued: signed webhooks and emails, retried with exponential
backoff and jitter for a bounded time, then parked as dead letters.

A delivery is claimed with a lease before it is sent, so two processes never send the
same one at once; it is marked delivered only after the receiver acknowledged it (2xx),
so a crash in between sends it again (at least once — receivers de-duplicate by the
event position) and an acknowledged delivery is never sent again. A slow or broken
endpoint holds at most its own `max_in_flight` slots and its own timeout: it never blocks
the service or other endpoints' deliveries.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog

from services.notify.domain import MAX_IN_FLIGHT, is_internal_host
from services.notify.email import NOT_CONFIGURED, EmailSender
from services.notify.signing import (
    DELIVERY_HEADER,
    POSITION_HEADER,
    SIGNATURE_HEADER,
    TYPE_HEADER,
    endpoint_secret,
    person_secret,
    sign,
)
from services.notify.views import ATTEMPTS, DIGESTS, ENDPOINTS, OUTBOX, SUBSCRIPTIONS, USERS
from shared.settings import Settings
from shared.store.errors import StoreUnavailable
from shared.store.log import EventLog

log = structlog.get_logger(__name__)

LEASE_MARGIN_S = 30.0
PERSON_LIMIT = 2  # deliveries in flight to one person's channel at once


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float
    max_backoff_s: float
    give_up_after_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.webhook_backoff_s, settings.webhook_max_backoff_s, settings.webhook_retry_for_s
        )

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.max_backoff_s, self.base_s * 2.0 ** max(0, attempts - 1))

        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None
    final: bool = False
    """Not sent, and trying again cannot change that (no address, no mail server): not
    retried for a day, each try logged (the person's page says why it was not sent)."""


def _resolves_internally(url: str) -> bool:
    """Whether a personal webhook's host name resolves to an internal address now (a
    name checked at registration can be pointed elsewhere later)."""
    host = httpx.URL(url).host
    if is_internal_host(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False  # unresolvable: the POST fails and is retried like any other
    return any(is_internal_host(str(info[4][0])) for info in infos)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Dispatcher:
    """Claims due deliveries and sends them on a thread pool, one lease at a time."""

    def __init__(
        self,
        log: EventLog,
        master_key: Callable[[], bytes],
        email: EmailSender,
        http: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        pool_size: int = 16,
    ) -> None:
        self.log = log
        self.master_key = master_key
        self.email = email
        self.http = http or httpx.Client(follow_redirects=False)
        self.policy = policy or RetryPolicy.from_settings(log.settings)
        self.rng = rng or random.Random()  # noqa: S311  # jitter, not security
        self.pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="notify")
        self._in_flight: dict[str, int] = defaultdict(int)
        self._limits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._futures: set[Future[None]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = False

    def _t(self, name: str) -> str:
        return self.log.table(name)

    # -- claiming -------------------------------------------------------------------

    def run_once(self, *, wait: bool = False) -> int:
        """Claim and start sending every due delivery there is room for."""
        if not self._ready:
            return 0
        now = datetime.now(UTC)
        with self._lock:
            busy = sorted(t for t, n in self._in_flight.items() if n >= self._limits.get(t, 1))
        params: dict[str, Any] = {"now": _iso(now), "per_target": MAX_IN_FLIGHT}
        params.update({f"busy{i}": target for i, target in enumerate(busy)})
        not_busy = (
            f" AND (o.channel || ':' || o.target) NOT IN"
            f" ({', '.join(f':busy{i}' for i in range(len(busy)))})"
            if busy
            else ""
        )
        # Oldest first, but at most a few per target (a person's email and their webhook
        # apart) and none for a paused or removed endpoint: a backlog waiting for one
        # receiver never hides the others' deliveries.
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT delivery_id, channel, target, position, event_type, payload,"
                f" attempts, created_at FROM (SELECT o.*, ROW_NUMBER() OVER (PARTITION BY"
                f" o.channel, o.target ORDER BY o.position) AS nth FROM {self._t(OUTBOX)} o"
                f" WHERE o.status = 'pending' AND o.next_attempt_at <= :now"
                f" AND (o.leased_until IS NULL OR o.leased_until < :now){not_busy}"
                f" AND NOT EXISTS (SELECT 1 FROM {self._t(ENDPOINTS)} e"
                f" WHERE o.channel = 'endpoint' AND e.id = o.target"
                f" AND (e.active = 0 OR e.removed = 1))) due"
                f" WHERE nth <= :per_target ORDER BY position LIMIT 200",
                params,
            )
            due = cur.fetchall()
            cur.execute(
                f"SELECT id, url, active, max_in_flight, timeout_s, secret_version"
                f" FROM {self._t(ENDPOINTS)}"
            )
            endpoints = {r["id"]: r for r in cur.fetchall()}
        started = 0
        for row in due:
            target = self._target(row, endpoints)
            if target is None:
                continue
            limit, timeout, slot = target["limit"], target["timeout"], _slot(row)
            with self._lock:
                self._limits[slot] = limit
                if self._in_flight[slot] >= limit:
                    continue
                self._in_flight[slot] += 1
            if not self._claim(row["delivery_id"], now, timeout):
                with self._lock:
                    self._in_flight[slot] -= 1
                continue
            future = self.pool.submit(self._deliver, row, target)
            with self._lock:
                self._futures.add(future)
            future.add_done_callback(self._done)
            started += 1
        if wait:
            self.drain()
        return started

    def _target(self, row: dict[str, Any], endpoints: dict[str, Any]) -> dict[str, Any] | None:
        if row["channel"] == "endpoint":
            endpoint = endpoints.get(row["target"])
            if endpoint is None or not endpoint["active"]:
                return None  # paused or removed: its deliveries wait (or stay parked)
            return {
                "kind": "endpoint",
                "limit": int(endpoint["max_in_flight"]),
                "timeout": float(endpoint["timeout_s"]),
                "endpoint": endpoint,
            }
        return {"kind": row["channel"], "limit": PERSON_LIMIT, "timeout": 10.0}

    def _claim(self, delivery_id: str, now: datetime, timeout: float) -> bool:
        lease = now + timedelta(seconds=timeout + LEASE_MARGIN_S)
        with self.log.db.transaction(write=True) as cur:
            cur.execute(
                f"UPDATE {self._t(OUTBOX)} SET leased_until = :lease WHERE delivery_id = :id"
                " AND status = 'pending' AND (leased_until IS NULL OR leased_until < :now)",
                {"lease": _iso(lease), "id": delivery_id, "now": _iso(now)},
            )
            return cur.rowcount == 1

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for every send in flight (tests, and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending = list(self._futures)
            if not pending:
                return
            for future in pending:
                future.result(timeout=max(0.0, deadline - time.monotonic()))

    # -- sending --------------------------------------------------------------------

    def _deliver(self, row: dict[str, Any], target: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            outcome = self._send(row, target)
        except StoreUnavailable as exc:  # tried again once the store answers
            log.warning("notification_send_waiting", delivery_id=row["delivery_id"], error=str(exc))
            outcome = Outcome(False, None, f"the event store did not answer: {exc}")
        except Exception as exc:  # a bug in one send must not kill the dispatcher
            log.exception("notification_send_failed", delivery_id=row["delivery_id"])
            outcome = Outcome(False, None, f"internal error: {exc!r}")
        finally:
            with self._lock:
                self._in_flight[_slot(row)] -= 1
        self._record(row, outcome, (time.perf_counter() - started) * 1000)

    def _send(self, row: dict[str, Any], target: dict[str, Any]) -> Outcome:
        payload = orjson.loads(row["payload"])
        if target["kind"] == "endpoint":
            endpoint = target["endpoint"]
            secret = endpoint_secret(
                self.master_key(), endpoint["id"], int(endpoint["secret_version"])
            )
            return self._post(endpoint["url"], payload, secret, row, float(endpoint["timeout_s"]))
        person = self._person(row["target"])
        if person is None:
            return Outcome(False, None, "the person is no longer active", final=True)
        if target["kind"] == "webhook":
            return self._post_personal(person, payload, row, target)
        if not person["email"]:
            return Outcome(False, None, "no email address on file", final=True)
        if not self.email.configured:
            return Outcome(False, None, NOT_CONFIGURED, final=True)
        error = self.email.send_notification(person["email"], payload["message"])
        return Outcome(error is None, None, error)

    def _post_personal(
        self, person: dict[str, Any], payload: Any, row: dict[str, Any], target: dict[str, Any]
    ) -> Outcome:
        url = person["webhook_url"]
        if not url:
            return Outcome(False, None, "no personal webhook URL is set", final=True)
        if self.log.settings.production and _resolves_internally(url):
            return Outcome(
                False, None, "refused: the webhook's host resolves to an internal address"
            )
        version = int(person["secret_version"] or 1)
        secret = person_secret(self.master_key(), row["target"], version)
        return self._post(url, payload, secret, row, target["timeout"])

    def _post(
        self, url: str, payload: Any, secret: str, row: dict[str, Any], timeout: float
    ) -> Outcome:
        body = orjson.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            POSITION_HEADER: str(row["position"]),
            DELIVERY_HEADER: row["delivery_id"],
            TYPE_HEADER: row["event_type"],
            "User-Agent": "Railyard-Webhooks/1",
        }
        try:
            response = self.http.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return Outcome(False, None, f"timed out after {timeout:g}s")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, None)
        if 300 <= response.status_code < 400:
            where = response.headers.get("location", "?")
            return Outcome(
                False,
                response.status_code,
                f"redirect to {where} not followed: register the final URL",
            )
        return Outcome(False, response.status_code, f"receiver answered {response.status_code}")

    def _person(self, username: str) -> dict[str, Any] | None:
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT u.email, s.webhook_url, s.secret_version FROM {self._t(USERS)} u"
                f" LEFT JOIN"
                f" {self._t(SUBSCRIPTIONS)} s ON s.username = u.username"
                " WHERE u.username = :u AND u.active = 1",
                {"u": username},
            )
            return cur.fetchone()

    def _record(self, row: dict[str, Any], outcome: Outcome, duration_ms: float) -> None:
        now = datetime.now(UTC)
        attempt = int(row["attempts"]) + 1
        if outcome.delivered:
            status, next_at = "delivered", _iso(now)
        elif outcome.final:
            status, next_at = "dead", _iso(now)
        else:
            age = (now - datetime.fromisoformat(row["created_at"])).total_seconds()
            delay = self.policy.delay(attempt, self.rng)
            if age + delay > self.policy.give_up_after_s:
                status, next_at = "dead", _iso(now)
            else:
                status, next_at = "pending", _iso(now + timedelta(seconds=delay))
        with self.log.db.transaction(write=True) as cur:
            cur.execute(
                f"INSERT INTO {self._t(ATTEMPTS)} (delivery_id, attempt, at, outcome, status_code,"
                " error, duration_ms) VALUES (:id, :n, :at, :outcome, :code, :error, :ms)"
                " ON CONFLICT (delivery_id, attempt) DO NOTHING",
                {
                    "id": row["delivery_id"],
                    "n": attempt,
                    "at": _iso(now),
                    "outcome": "delivered" if outcome.delivered else "failed",
                    "code": outcome.status_code,
                    "error": outcome.error,
                    "ms": round(duration_ms, 1),
                },
            )
            cur.execute(
                f"UPDATE {self._t(OUTBOX)} SET status = :status, attempts = :n,"
                " next_attempt_at = :next, leased_until = NULL, last_error = :error,"
                " delivered_at = :delivered WHERE delivery_id = :id AND status = 'pending'",
                {
                    "status": status,
                    "n": attempt,
                    "next": next_at,
                    "error": outcome.error,
                    "delivered": _iso(now) if outcome.delivered else None,
                    "id": row["delivery_id"],
                },
            )
        if outcome.error == NOT_CONFIGURED:
            # Not a delivery that failed: every email is given up until it is set.
            log.warning(
                "notification_not_sent",
                delivery_id=row["delivery_id"],
                status=status,
                reason="email is not configured: RAILYARD_SMTP_HOST is unset",
                setting="RAILYARD_SMTP_HOST",
            )
            return
        (log.warning if status == "dead" else log.info)(
            "notification_attempted",
            delivery_id=row["delivery_id"],
            status=status,
            attempt=attempt,
            error=outcome.error,
        )

    # -- the daily digest -------------------------------------------------------------

    def send_digests(self, now: datetime | None = None) -> int:
        """Once a day after the digest hour, one email per person with what queued up."""
        moment = now or datetime.now(UTC)
        local = moment.astimezone(self.log.settings.zone)
        if local.hour < self.log.settings.digest_hour or not self.email.configured:
            return 0  # without a mail server the digest waits (its page shows it)
        today = local.date().isoformat()
        with self.log.db.transaction() as cur:
            cur.execute(
                f"SELECT o.delivery_id, o.target, o.payload FROM {self._t(OUTBOX)} o"
                f" LEFT JOIN {self._t(DIGESTS)} d ON d.username = o.target"
                " WHERE o.status = 'digest' AND (d.sent_on IS NULL OR d.sent_on < :today)"
                " ORDER BY o.position",
                {"today": today},
            )
            rows = cur.fetchall()
        by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_person[row["target"]].append(row)
        sent = 0
        for username, queued in by_person.items():
            person = self._person(username)
            if person is None or not person["email"]:
                continue
            messages = [orjson.loads(r["payload"])["message"] for r in queued]
            error = self.email.send_many(
                person["email"], f"Railyard daily digest: {len(messages)} updates", messages
            )
            if error is not None:
                log.warning("digest_failed", username=username, error=error)
                continue
            with self.log.db.transaction(write=True) as cur:
                for row in queued:
                    cur.execute(
                        f"UPDATE {self._t(OUTBOX)} SET status = 'delivered',"
                        " delivered_at = :now, attempts = attempts + 1"
                        " WHERE delivery_id = :id AND status = 'digest'",
                        {"now": _iso(moment), "id": row["delivery_id"]},
                    )
                cur.execute(
                    f"INSERT INTO {self._t(DIGESTS)} (username, sent_on)"
                    " VALUES (:u, :d) ON CONFLICT (username) DO UPDATE"
                    " SET sent_on = excluded.sent_on",
                    {"u": username, "d": today},
                )
            sent += 1
        return sent

    # -- dead letters ----------------------------------------------------------------

    def resend(self, delivery_id: str) -> bool:
        """Put a dead letter back in the queue, with a fresh retry window."""
        now = _iso(datetime.now(UTC))
        with self.log.db.transaction(write=True) as cur:
            cur.execute(
                f"UPDATE {self._t(OUTBOX)} SET status = 'pending', next_attempt_at = :now,"
                " created_at = :now, leased_until = NULL WHERE delivery_id = :id"
                " AND status = 'dead'",
                {"now": now, "id": delivery_id},
            )
            return cur.rowcount == 1

    # -- running --------------------------------------------------------------------

    def setup(self) -> None:
        self._ready = True

    def _loop(self) -> None:
        last_digest_check = 0.0
        while not self._stop.is_set():
            try:
                started = self.run_once()
                if time.monotonic() - last_digest_check > 60:
                    last_digest_check = time.monotonic()
                    self.send_digests()
            except StoreUnavailable as exc:  # a passing outage: no traceback, next round
                log.warning("notification_dispatch_waiting", error=str(exc))
                started = 0
            except Exception:  # keep dispatching; the store may be back on the next round
                log.exception("notification_dispatch_failed")
                started = 0
            if not started:
                self._stop.wait(self.log.settings.dispatch_poll_s)

    def start(self) -> None:
        self.setup()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="railyard-notify", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.pool.shutdown(wait=True, cancel_futures=False)


def _slot(row: dict[str, Any]) -> str:
    """Whose sending slots a delivery takes: an endpoint's, or one person's by channel
    (their emails waiting for a mail server do not hold up their webhook)."""
    return f"{row['channel']}:{row['target']}"
