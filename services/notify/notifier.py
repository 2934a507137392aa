"""The tracked follower that decides, for each event, who hears about it and how.

It folds the facts it needs (people, requests, bundles, changes, endpoints,
subscriptions) and enqueues one outbox row per recipient in the same transaction as its
log position, so every event is enqueued exactly once per subscription: a restart
neither loses nor repeats an enqueue. Sending is the dispatcher's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from services.notify.domain import (
    Channel,
    Topic,
    effective_channel,
    matches,
    mentioned,
    old_news,
)
from services.notify.messages import DESCRIPTIONS, Message, change_name, describe
from services.notify.routing import (
    BUNDLE_FOLLOWERS_ONLY,
    BUNDLE_WIDE,
    CHANGE_CLOSING,
    NOBODY,
    ROUTES,
    TRIAGE,
    Routing,
)
from services.notify.views import (
    BUNDLES,
    CHANGES,
    ENDPOINTS,
    LOOKUPS,
    OUTBOX,
    PARTICIPANTS,
    REQUESTS,
    SUBSCRIPTIONS,
    USERS,
    create_tables,
)
from shared import contracts as c
from shared.store.log import LoggedEvent, public_entry
from shared.store.numbers import add_numbers, next_number
from shared.store.projections import Projection
from shared.store.sql import Cursor

NOTIFY = "services.notify.domain:"
IDENTITY = "shared.identity.domain:"


def _pack(subsystems: Iterable[str]) -> str:
    return "|" + "|".join(subsystems) + "|"


def _unpack(packed: str) -> list[str]:
    return [s for s in packed.split("|") if s]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Notifier(Projection):
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

    def _t(self, name: str) -> str:
        return self.log.table(name)

    def _user_event(self, cur: Cursor, e: LoggedEvent) -> None:
        d = e.data
        if e.type == "User.Registered":
            cur.execute(
                f"INSERT INTO {self._t(USERS)} (username, aggregate_id, roles,"
                " department, email, active) VALUES (:u, :a, :r, :d, :e, 1)",
                {
                    "u": d["username"],
                    "a": e.aggregate_id,
                    "r": ",".join(d["roles"]),
                    "d": d.get("department"),
                    "e": d.get("email"),
                },
            )
        elif e.type == "User.ProfileChanged":
            cur.execute(
                f"UPDATE {self._t(USERS)} SET roles = :r, department = :d, email = :e"
                " WHERE aggregate_id = :a",
                {
                    "r": ",".join(d["roles"]),
                    "d": d.get("department"),
                    "e": d.get("email"),
                    "a": e.aggregate_id,
                },
            )
        elif e.type in ("User.Deactivated", "User.Reactivated"):
            cur.execute(
                f"UPDATE {self._t(USERS)} SET active = :on WHERE aggregate_id = :a",
                {"on": int(e.type == "User.Reactivated"), "a": e.aggregate_id},
            )

    def _endpoint_event(self, cur: Cursor, e: LoggedEvent) -> None:
        d, table = e.data, self._t(ENDPOINTS)
        if e.type == "WebhookEndpoint.Registered":
            cur.execute(
                f"INSERT INTO {table} (id, url, event_types, description, active,"
                " removed, max_in_flight, timeout_s, secret_version, registered_at)"
                " VALUES (:id, :url, :types, :desc, 1, 0, :mif, :timeout, 1, :at)",
                {
                    "id": e.aggregate_id,
                    "url": d["url"],
                    "types": orjson.dumps(d["event_types"]).decode(),
                    "desc": d["description"],
                    "mif": d["max_in_flight"],
                    "timeout": d["timeout_s"],
                    "at": e.occurred_at,
                },
            )
            return
        by_type: dict[str, dict[str, Any]] = {
            "WebhookEndpoint.Changed": {
                "url": d.get("url"),
                "event_types": orjson.dumps(d.get("event_types")).decode(),
            },
            "WebhookEndpoint.Paused": {"active": 0},
            "WebhookEndpoint.Resumed": {"active": 1},
            "WebhookEndpoint.SecretRotated": {"secret_version": d.get("secret_version")},
            "WebhookEndpoint.Removed": {"active": 0, "removed": 1},
        }
        changes = by_type[e.type]

        sets = ", ".join(f"{k} = :{k}" for k in changes)
        cur.execute(f"UPDATE {table} SET {sets} WHERE id = :id", {**changes, "id": e.aggregate_id})

    def _subscription_event(self, cur: Cursor, e: LoggedEvent) -> None:
        table = self._t(SUBSCRIPTIONS)
        if e.type == "Subscriptions.Started":
            cur.execute(
                f"INSERT INTO {table} (username, aggregate_id, channels, webhook_url,"
                " followed) VALUES (:u, :a, '{}', NULL, '[]')",
                {"u": e.data["username"], "a": e.aggregate_id},
            )
            return
        cur.execute(
            f"SELECT channels, webhook_url, followed FROM {table} WHERE aggregate_id = :a",
            {"a": e.aggregate_id},
        )
        row = cur.fetchone()
        assert row is not None
        channels, followed = orjson.loads(row["channels"]), orjson.loads(row["followed"])
        url = row["webhook_url"]
        if e.type == "Subscriptions.Chose":
            channels[e.data["topic"]] = e.data["channel"]
        elif e.type == "Subscriptions.WebhookSet":
            url = e.data["url"]
        elif e.type == "Subscriptions.Followed":
            followed.append(e.data["bundle_id"])
        elif e.type == "Subscriptions.Unfollowed":
            followed = [b for b in followed if b != e.data["bundle_id"]]
        cur.execute(
            f"UPDATE {table} SET channels = :c, webhook_url = :w, followed = :f"
            " WHERE aggregate_id = :a",
            {
                "c": orjson.dumps(channels).decode(),
                "w": url,
                "f": orjson.dumps(followed).decode(),
                "a": e.aggregate_id,
            },
        )

    def _fold(self, cur: Cursor, e: LoggedEvent) -> None:
        """Keep the few facts about requests, bundles and changes that routing needs."""
        d = e.data
        if e.topic == c.REQUEST_SUBMITTED.topic:
            cur.execute(
                f"INSERT INTO {self._t(REQUESTS)} (id, title, department, number)"
                f" VALUES (:id, :t, :d, {next_number(self._t(REQUESTS))})",
                {"id": e.aggregate_id, "t": d["title"], "d": d["department"]},
            )
        elif e.topic == c.REQUEST_EDITED.topic:
            cur.execute(
                f"UPDATE {self._t(REQUESTS)} SET title = :t WHERE id = :id",
                {"t": d["title"], "id": e.aggregate_id},
            )
        elif e.topic in (c.REQUEST_ACCEPTED.topic, c.REQUEST_OWNER_ASSIGNED.topic):
            cur.execute(
                f"UPDATE {self._t(REQUESTS)} SET owner = :o WHERE id = :id",
                {"o": d["owner"], "id": e.aggregate_id},
            )
        elif e.topic == c.BUNDLE_PLANNED.topic:
            cur.execute(
                f"INSERT INTO {self._t(BUNDLES)} (id, name, deploy_date, request_ids)"
                " VALUES (:id, :n, :dd, '[]')",
                {"id": e.aggregate_id, "n": d["name"], "dd": d["deploy_date"]},
            )
        elif e.topic == c.BUNDLE_MOVED.topic:
            cur.execute(
                f"UPDATE {self._t(BUNDLES)} SET deploy_date = :dd WHERE id = :id",
                {"dd": d["deploy_date"], "id": e.aggregate_id},
            )
        elif e.topic in (c.REQUEST_SCHEDULED.topic, c.REQUEST_UNSCHEDULED.topic):
            self._fold_scope(cur, e)
        elif e.topic == c.CHANGE_RAISED.topic:
            cur.execute(
                f"INSERT INTO {self._t(CHANGES)} (id, title, change_type, requester,"
                " implementers, bundle_id, subsystems, window_start, window_end, open, number)"
                f" VALUES (:id, :t, :ct, :r, :i, :b, :s, :ws, :we, 1,"
                f" {next_number(self._t(CHANGES))})",
                {
                    "id": e.aggregate_id,
                    "t": d["title"],
                    "ct": d["change_type"],
                    "r": d["requester"],
                    "i": orjson.dumps(d["implementers"]).decode(),
                    "b": d.get("bundle_id"),
                    "s": _pack(d["subsystems"]),
                    "ws": d.get("window_start"),
                    "we": d.get("window_end"),
                },
            )
        elif e.topic == c.CHANGE_REVISED.topic:
            cur.execute(
                f"UPDATE {self._t(CHANGES)} SET subsystems = :s, window_start = :ws,"
                " window_end = :we WHERE id = :id",
                {
                    "s": _pack(d["subsystems"]),
                    "ws": d.get("window_start"),
                    "we": d.get("window_end"),
                    "id": e.aggregate_id,
                },
            )
        elif e.topic in (c.REQUEST_COMMENTED.topic, c.CHANGE_COMMENTED.topic):
            cur.execute(
                f"INSERT INTO {self._t(PARTICIPANTS)} (item_id, username) VALUES (:i, :u)"
                " ON CONFLICT DO NOTHING",
                {"i": e.aggregate_id, "u": e.actor},
            )
        elif e.topic in CHANGE_CLOSING:
            cur.execute(
                f"UPDATE {self._t(CHANGES)} SET open = 0 WHERE id = :id", {"id": e.aggregate_id}
            )

    def _fold_scope(self, cur: Cursor, e: LoggedEvent) -> None:
        request_id = e.data["request_id"]
        scheduled = e.topic == c.REQUEST_SCHEDULED.topic
        ids = orjson.loads(
            cur.scalar(
                f"SELECT request_ids FROM {self._t(BUNDLES)} WHERE id = :id", {"id": e.aggregate_id}
            )
            or "[]"
        )
        ids = [i for i in ids if i != request_id] + ([request_id] if scheduled else [])
        cur.execute(
            f"UPDATE {self._t(BUNDLES)} SET request_ids = :ids WHERE id = :id",
            {"ids": orjson.dumps(ids).decode(), "id": e.aggregate_id},
        )
        cur.execute(
            f"UPDATE {self._t(REQUESTS)} SET bundle_id = :b WHERE id = :id",
            {"b": e.aggregate_id if scheduled else None, "id": request_id},
        )

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
        requester and implementers can never approve it: they are not asked to."""
        change = self._row(cur, CHANGES, e.aggregate_id)
        if change is None or change["change_type"] == "standard" or not change["open"]:
            return NOBODY
        if e.topic == c.CHANGE_REVISED.topic and not e.data.get("approvals_voided"):
            return NOBODY
        return Routing(self._approvers(cur, change), change, f"/changes/{e.aggregate_id}")

    def _for_change_people(self, cur: Cursor, e: LoggedEvent) -> Routing:
        """Who raised and implements a change hear of its decision and of comments on it
        (not of a standard change approved by its template as it is raised); the CAB
        members who may approve it hear of comments while it is open."""
        change = self._row(cur, CHANGES, e.aggregate_id)
        if change is None or (
            e.topic == c.CHANGE_APPROVED.topic and change["change_type"] == "standard"
        ):
            return NOBODY
        people = dict.fromkeys(sorted(_its_people(change)), Topic.OWN_CHANGES)
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
        return Routing(people, {}, self._weekly_report_of(e))

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
        mine = set(_unpack(change["subsystems"]))
        cab = dict.fromkeys(self._users(cur, role="cab_member"), Topic.APPROVALS)
        for other in overlapping:
            shared = sorted(mine & set(_unpack(other["subsystems"])))
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
