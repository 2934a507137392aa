"""The tracked follower that decides, for each event, who hears about it and how.

It folds the facts it needs (people, requests, bundles, changes, endpoints,
subscriptions, followers: `services.notify.lookups`) and enqueues one outbox row per
recipient in the same transaction as its log position, so every event is enqueued
exactly once per subscription: a restart neither loses nor repeats an enqueue. Sending
is the dispatcher's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from services.notify.domain import (
    TOPIC_AUDIENCE,
    Channel,
    Topic,
    effective_channel,
    matches,
    old_news,
)
from services.notify.lookups import IDENTITY, NOTIFY, LookupFolding, unpack
from services.notify.messages import DESCRIPTIONS, Message, change_name, describe
from services.notify.routing import (
    BUNDLE_FOLLOWERS_ONLY,
    BUNDLE_WIDE,
    NOBODY,
    ROUTES,
    TRIAGE,
    Routing,
)
from services.notify.views import (
    BUNDLES,
    CHANGES,
    ENDPOINTS,
    FOLLOWERS,
    LOOKUPS,
    OUTBOX,
    PARTICIPANTS,
    REQUESTS,
    SUBSCRIPTIONS,
    USERS,
    create_tables,
)
from shared import contracts as c
from shared.domain import mentioned
from shared.store.log import LoggedEvent, public_entry
from shared.store.numbers import add_column, add_numbers
from shared.store.projections import Projection
from shared.store.sql import Cursor


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Notifier(LookupFolding, Projection):
    name = "notify.outbox.v1"
    tables = LOOKUPS  # a rebuild refolds these; the outbox and its history stay

    def create(self, cur: Cursor) -> None:
        create_tables(self.log, cur)
        # Lookups folded before they had numbers are numbered from the log itself.
        log = self.log
        in_log_order = (
            f"(SELECT {log.aggregate_id_column} AS aggregate, {log.position_column} AS"
            f" position, topic AS type FROM {log.events_table}) AS log_events"
        )
        for table, created in ((REQUESTS, c.REQUEST_SUBMITTED), (CHANGES, c.CHANGE_RAISED)):
            add_numbers(log.db, cur, self._t(table), in_log_order, "aggregate", created.topic)
        # Made before a person could replace their webhook secret: all still the first.
        add_column(log.db, cur, self._t(SUBSCRIPTIONS), "secret_version", "INTEGER")

    def handlers(self) -> Mapping[str, Any]:
        return {}

    def handles(self, topic: str) -> bool:
        return True  # endpoints may filter on any event type

    # -- folding the facts ----------------------------------------------------------

    def apply_batch(self, cur: Cursor, events: Sequence[LoggedEvent]) -> None:
        endpoints = self._endpoints(cur)
        for event in events:
            if event.topic.startswith(NOTIFY + "WebhookEndpoint."):
                self._endpoint_event(cur, event)
                endpoints = self._endpoints(cur)
                continue
            if event.topic.startswith(NOTIFY + "Subscriptions."):
                self._subscription_event(cur, event)
                continue
            if event.topic.startswith(IDENTITY + "User."):
                self._user_event(cur, event)
            self._fold(cur, event)
            self._enqueue_for_people(cur, event)
            self._enqueue_for_endpoints(cur, event, endpoints)

    # -- routing --------------------------------------------------------------------

    def _recipients(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """Who hears about an event (username -> topic), facts about its item, a link."""
        route = ROUTES.get(e.topic)
        if route is not None:
            return getattr(self, route)(cur, e)  # type: ignore[no-any-return]  # each a Routing
        if e.type in TRIAGE:
            return self._for_request(cur, e)
        if e.type in BUNDLE_WIDE | BUNDLE_FOLLOWERS_ONLY:
            return self._for_bundle(cur, e)
        if e.topic == c.DEPLOYMENT_REPORTED.topic and e.data["unauthorised"]:
            return self._for_unauthorised(cur, e)
        return NOBODY

    def _for_submission(self, cur: Cursor, e: LoggedEvent) -> Routing:
        people = dict.fromkeys(self._users(cur, role="release_manager"), Topic.NEW_SUBMISSIONS)
        request = self._row(cur, REQUESTS, e.aggregate_id) or {"title": e.data["title"]}
        return Routing(people, request, f"/requests/{e.aggregate_id}")

    def _for_triage_return(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """A request answered or edited while it waits for triage: the release managers,
        whose queue it is in, hear of it, as do its department and followers."""
        request = self._row(cur, REQUESTS, e.aggregate_id)
        if request is None:
            return NOBODY
        people: dict[str, Topic] = {}
        for user in self._users(cur, role="release_manager"):
            people[user] = Topic.NEW_SUBMISSIONS
        self._add_request_people(cur, people, request, e)
        return Routing(people, request, f"/requests/{e.aggregate_id}")

    def _for_request(self, cur: Cursor, e: LoggedEvent) -> Routing:
        # Intake's events are the request's own; release's name it in `request_id`.
        request_id = e.data.get("request_id", e.aggregate_id)
        request = self._row(cur, REQUESTS, request_id)
        if request is None:
            return NOBODY
        people: dict[str, Topic] = {}
        self._add_request_people(cur, people, request, e)
        facts = dict(request)
        if "request_id" in e.data:
            bundle = self._row(cur, BUNDLES, e.aggregate_id)
            if bundle is not None:
                facts.update(name=bundle["name"], deploy_date=bundle["deploy_date"])
                for user in self._followers(cur, e.aggregate_id):
                    people.setdefault(user, Topic.FOLLOWED_BUNDLES)
        return Routing(people, facts, f"/requests/{request_id}")

    def _for_comment(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """The requesting department and the IT owner hear of a comment; while the request
        has no owner (in triage), the release managers do instead."""
        request = self._row(cur, REQUESTS, e.aggregate_id)
        if request is None:
            return NOBODY
        people: dict[str, Topic] = {}
        self._add_request_people(cur, people, request, e)
        if not request.get("owner"):
            for user in self._users(cur, role="release_manager"):
                people.setdefault(user, Topic.NEW_SUBMISSIONS)
        return Routing(people, {**request, "by": e.actor}, f"/requests/{e.aggregate_id}")

    def _for_rating(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """The IT owner hears how the delivered work was rated (and why), as do those who
        follow the request; its department rated it."""
        request = self._row(cur, REQUESTS, e.aggregate_id)
        if request is None:
            return NOBODY
        people = self._item_followers(cur, request["id"])
        if request.get("owner"):
            people[request["owner"]] = Topic.OWNED_REQUESTS
        return Routing(people, request, f"/requests/{e.aggregate_id}")

    def _for_progress(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """A step of development or QA: the IT owner hears of it (their topic promises
        every step), as do those who follow the request; not the department, for whom
        the request's own steps (scheduled, delivered) say enough."""
        request = self._row(cur, REQUESTS, str(e.data["request_id"]))
        if request is None:
            return NOBODY
        people = self._item_followers(cur, request["id"])
        if request.get("owner"):
            people[request["owner"]] = Topic.OWNED_REQUESTS
        bundle = self._row(cur, BUNDLES, e.aggregate_id)
        facts = {**request, **({"name": bundle["name"]} if bundle else {}), "by": e.actor}
        return Routing(people, facts, f"/requests/{request['id']}")

    def _for_bundle(self, cur: Cursor, e: LoggedEvent) -> Routing:
        bundle = self._row(cur, BUNDLES, e.aggregate_id)
        if bundle is None:
            return NOBODY
        people: dict[str, Topic] = {}
        if e.type in BUNDLE_WIDE:
            for request_id in orjson.loads(bundle["request_ids"]):
                request = self._row(cur, REQUESTS, request_id)
                if request is not None:
                    self._add_request_people(cur, people, request, e)
        for user in self._followers(cur, e.aggregate_id):
            people[user] = Topic.FOLLOWED_BUNDLES
        return Routing(people, bundle, f"/release/bundles/{e.aggregate_id}")

    def _for_change(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """A change awaits the CAB's approval when it is raised, and again when a revision
        voids its approvals; a standard change is approved by its template instead. The
        requester and implementers can never approve it: they are not asked to. Whoever
        follows the change hears of every revision."""
        change = self._row(cur, CHANGES, e.aggregate_id)
        if change is None:
            return NOBODY
        people = self._item_followers(cur, change["id"])
        awaits = change["change_type"] != "standard" and change["open"]
        if awaits and (e.topic == c.CHANGE_RAISED.topic or e.data.get("approvals_voided")):
            people.update(self._approvers(cur, change))
        return Routing(people, change, f"/changes/{e.aggregate_id}")

    def _for_change_people(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """Who raised and implements a change hear of its decision and of comments on it
        (not of a standard change approved by its template as it is raised); the CAB
        members who may approve it hear of comments while it is open."""
        change = self._row(cur, CHANGES, e.aggregate_id)
        if change is None or (
            e.topic == c.CHANGE_APPROVED.topic and change["change_type"] == "standard"
        ):
            return NOBODY
        people = self._item_followers(cur, change["id"])
        people.update(dict.fromkeys(sorted(_its_people(change)), Topic.OWN_CHANGES))
        if e.topic == c.CHANGE_COMMENTED.topic and change["open"]:
            people.update(self._approvers(cur, change))
        return Routing(people, {**change, "by": e.actor}, f"/changes/{e.aggregate_id}")

    def _approvers(self, cur: Cursor, change: Mapping[str, Any]) -> dict[str, Topic]:
        """The CAB members who may approve `change`: never its requester or implementers."""
        barred = _its_people(change)
        return {u: Topic.APPROVALS for u in self._users(cur, role="cab_member") if u not in barred}

    def _for_unauthorised(self, cur: Cursor, e: LoggedEvent) -> Routing:
        people = {
            u: Topic.UNAUTHORISED_CHANGES
            for role in ("release_manager", "admin")
            for u in self._users(cur, role=role)
        }
        claimed = e.data.get("claimed_change_id")
        change = self._row(cur, CHANGES, str(claimed)) if claimed else None
        return Routing(people, {"claimed": change} if change else {}, self._weekly_report_of(e))

    def _for_weekly_report(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """Everyone who reads the organisation's figures may hear of its weekly report."""
        people = {
            user: Topic.WEEKLY_REPORT
            for role in TOPIC_AUDIENCE[Topic.WEEKLY_REPORT]
            for user in self._users(cur, role=role)
        }
        return Routing(people, {}, f"/dashboard/weekly?week={e.data['week']}")

    def _weekly_report_of(self, e: LoggedEvent) -> str:
        """The weekly status report of the week a deployment happened: it lists that
        week's unauthorised changes."""
        try:
            at = datetime.fromisoformat(str(e.data.get("deployed_at")))
        except ValueError:
            at = datetime.fromisoformat(e.occurred_at)  # a pipeline's unreadable time
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        year, week, _ = at.astimezone(self.log.settings.zone).isocalendar()
        return f"/dashboard/weekly?week={year}-W{week:02d}"

    def _add_request_people(
        self, cur: Cursor, people: dict[str, Topic], request: Mapping[str, Any], e: LoggedEvent
    ) -> None:
        for user in self._users(cur, role="requester", department=request["department"]):
            people.setdefault(user, Topic.DEPARTMENT_REQUESTS)
        owner = request.get("owner") or e.data.get("owner")
        if owner:
            people.setdefault(owner, Topic.OWNED_REQUESTS)
        for user, topic in self._item_followers(cur, request["id"]).items():
            people.setdefault(user, topic)

    def _enqueue_for_people(self, cur: Cursor, e: LoggedEvent) -> None:
        if old_news(e.occurred_at, datetime.now(UTC)):  # history imported, or refolded by a rebuild
            return
        if e.topic in (c.CHANGE_RAISED.topic, c.CHANGE_REVISED.topic):
            self._enqueue_conflicts(cur, e)
        if e.type not in DESCRIPTIONS:
            return
        routing = self._recipients(cur, e)
        message = describe(e.type, e.data, routing.facts, routing.link)
        people = dict(routing.people)
        if e.type.endswith(".Commented"):
            self._converse(cur, e, people)
        self._tell(cur, e, people, message)

    def _converse(self, cur: Cursor, e: LoggedEvent, people: dict[str, Topic]) -> None:
        """Who commented on the item before hears of the next comment (`_fold` counts
        each author in), and whoever a comment names hears of it as such."""
        cur.execute(
            f"SELECT username FROM {self._t(PARTICIPANTS)} WHERE item_id = :i",
            {"i": e.aggregate_id},
        )
        for row in cur.fetchall():
            people.setdefault(row["username"], Topic.CONVERSATIONS)
        people.update(dict.fromkeys(mentioned(e.data["text"]), Topic.MENTIONS))

    def _enqueue_conflicts(self, cur: Cursor, e: LoggedEvent) -> None:
        """Another open change touching a shared subsystem in an overlapping window: the
        CAB hears about the conflict when either change is raised or re-planned."""
        change = self._row(cur, CHANGES, e.aggregate_id)
        if change is None or not change["window_start"]:
            return
        cur.execute(
            f"SELECT id, title, number, subsystems, window_start, window_end"
            f" FROM {self._t(CHANGES)}"
            " WHERE open = 1 AND id <> :id AND window_start < :end AND window_end > :start",
            {"id": change["id"], "start": change["window_start"], "end": change["window_end"]},
        )
        overlapping = cur.fetchall()
        mine = set(unpack(change["subsystems"]))
        cab = dict.fromkeys(self._users(cur, role="cab_member"), Topic.APPROVALS)
        for other in overlapping:
            shared = sorted(mine & set(unpack(other["subsystems"])))
            if not shared:
                continue
            mine_named, other_named = change_name(change), change_name(other)
            message = Message(
                subject=f"Conflict: {mine_named} and {other_named} both change {', '.join(shared)}",
                lines=(
                    f"{mine_named}: {change['window_start']} to {change['window_end']}.",
                    f"{other_named}: {other['window_start']} to {other['window_end']}.",
                ),
                link=f"/changes/{change['id']}",
            )
            self._tell(cur, e, cab, message, suffix=f":conflict:{other['id']}")

    def _tell(
        self,
        cur: Cursor,
        e: LoggedEvent,
        routed: Mapping[str, Topic],
        message: Message,
        suffix: str = "",
    ) -> None:
        people = dict(routed)
        people.pop(e.actor, None)  # nobody is told about what they did themselves
        event = public_entry(e)
        for username, topic in sorted(people.items()):
            user = self._row(cur, USERS, username, key="username")
            if user is None or not user["active"]:
                continue
            channel = self._channel(cur, username, user["roles"].split(","), topic)
            if channel == Channel.OFF:
                continue
            payload = {
                "event": event,
                "topic": topic.value,
                "message": {
                    "subject": message.subject,
                    "lines": list(message.lines),
                    "link": message.link,
                    # The whole address, for a receiver that shows it (a chat message).
                    "url": f"{self.log.settings.public_base}{message.link}",
                },
            }
            status, error = "pending", None
            if channel in (Channel.EMAIL, Channel.DIGEST) and not user["email"]:
                status, error = "dead", "no email address on file"
            if channel == Channel.DIGEST and status == "pending":
                status = "digest"
            self._enqueue(
                cur, e, channel.value, username, topic.value, payload, status, error, suffix
            )

    def _enqueue_for_endpoints(
        self, cur: Cursor, e: LoggedEvent, endpoints: Iterable[Mapping[str, Any]]
    ) -> None:
        for endpoint in endpoints:
            if matches(e.type, endpoint["event_types"]):
                self._enqueue(
                    cur, e, "endpoint", endpoint["id"], None, public_entry(e), "pending", None
                )

    def _enqueue(
        self,
        cur: Cursor,
        e: LoggedEvent,
        channel: str,
        target: str,
        topic: str | None,
        payload: Mapping[str, Any],
        status: str,
        error: str | None,
        suffix: str = "",
    ) -> None:
        now = _now()
        cur.execute(
            f"INSERT INTO {self._t(OUTBOX)} (delivery_id, position, event_type, channel, target,"
            " topic, payload, status, attempts, created_at, next_attempt_at, last_error)"
            " VALUES (:id, :pos, :type, :ch, :target, :topic, :payload, :status, 0, :now, :now,"
            " :error) ON CONFLICT (delivery_id) DO NOTHING",
            {
                "id": f"{e.position}:{channel}:{target}{suffix}",
                "pos": e.position,
                "type": e.type,
                "ch": channel,
                "target": target,
                "topic": topic,
                "payload": orjson.dumps(payload).decode(),
                "status": status,
                "now": now,
                "error": error,
            },
        )

    # -- lookups --------------------------------------------------------------------

    def _row(self, cur: Cursor, table: str, value: str, key: str = "id") -> dict[str, Any] | None:
        cur.execute(f"SELECT * FROM {self._t(table)} WHERE {key} = :v", {"v": value})
        return cur.fetchone()

    def _users(self, cur: Cursor, role: str, department: str | None = None) -> list[str]:
        cur.execute(f"SELECT username, roles, department FROM {self._t(USERS)} WHERE active = 1")
        return [
            r["username"]
            for r in cur.fetchall()
            if role in r["roles"].split(",")
            and (department is None or (r["department"] or "").casefold() == department.casefold())
        ]

    def _followers(self, cur: Cursor, bundle_id: str) -> list[str]:
        cur.execute(f"SELECT username, followed FROM {self._t(SUBSCRIPTIONS)}")
        return [r["username"] for r in cur.fetchall() if bundle_id in orjson.loads(r["followed"])]

    def _item_followers(self, cur: Cursor, item_id: str) -> dict[str, Topic]:
        """Who follows a request or a change, each under the topic they follow it by."""
        cur.execute(
            f"SELECT username FROM {self._t(FOLLOWERS)} WHERE item_id = :i ORDER BY username",
            {"i": item_id},
        )
        return dict.fromkeys((r["username"] for r in cur.fetchall()), Topic.FOLLOWED_ITEMS)

    def _channel(self, cur: Cursor, username: str, roles: list[str], topic: Topic) -> Channel:
        chosen = cur.scalar(
            f"SELECT channels FROM {self._t(SUBSCRIPTIONS)} WHERE username = :u", {"u": username}
        )
        return effective_channel(topic, orjson.loads(chosen) if chosen else {}, roles)

    def _endpoints(self, cur: Cursor) -> list[dict[str, Any]]:
        # Paused endpoints still get their deliveries queued: they are sent on resume.
        cur.execute(f"SELECT id, event_types FROM {self._t(ENDPOINTS)} WHERE removed = 0")
        return [
            {"id": r["id"], "event_types": orjson.loads(r["event_types"])} for r in cur.fetchall()
        ]


def _its_people(change: Mapping[str, Any]) -> set[str]:
    """Who raised a change and who implements it."""
    return {change["requester"], *orjson.loads(change["implementers"])}
