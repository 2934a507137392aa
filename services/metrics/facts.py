"""Folding the log into metrics' records, by the integration contracts' topics only.

The service's projection and a consumer's replay run the same `Folder` over the same
events, so they hold the same records. Only fields listed in `shared.contracts` are
read; metrics never imports another service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.metrics.domain.calendar import to_utc
from services.metrics.domain.records import (
    WORK_STAGES,
    BundleRecord,
    ChangeRecord,
    DeploymentRecord,
    History,
    RankingRecord,
    RequestRecord,
)
from shared import contracts as c

SCHEDULED_OR_LATER = ("scheduled", "in_development", "in_qa", "awaiting_deployment")
PROGRESS = {
    "in_development": "in_development",
    "ready_for_qa": "in_qa",
    "qa_passed": "awaiting_deployment",
    "qa_failed": "in_development",
}
TRIAGE_OUTCOME = {
    c.REQUEST_REJECTED.topic: "rejected",
    c.REQUEST_DEFERRED.topic: "deferred",
    c.REQUEST_DUPLICATE.topic: "duplicate",
}


class Fact(Protocol):
    """One event of the log, as the projection and the consumer feed both present it."""

    @property
    def topic(self) -> str: ...
    @property
    def aggregate_id(self) -> str: ...
    @property
    def occurred_at(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FeedFact:
    """An event read from `GET /api/events`."""

    position: int
    topic: str
    aggregate_id: str
    occurred_at: str
    data: dict[str, Any]

    @classmethod
    def from_feed(cls, entry: dict[str, Any]) -> FeedFact:
        return cls(
            int(entry["position"]),
            str(entry["topic"]),
            str(entry["aggregate_id"]),
            str(entry["occurred_at"]),
            dict(entry["data"]),
        )


@dataclass
class Touched:
    requests: set[str] = field(default_factory=set)
    bundles: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)
    deployments: set[str] = field(default_factory=set)
    rankings: set[str] = field(default_factory=set)


Handler = Callable[[Fact, str], None]


class Folder:
    """Applies events to a History, remembering which records it changed."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.touched = Touched()
        h = self.handlers = self._handlers()
        self.topics = frozenset(h)

    def apply(self, event: Fact) -> None:
        handler = self.handlers.get(event.topic)
        if handler is not None:
            handler(event, to_utc(event.occurred_at))

    def apply_all(self, events: Iterable[Fact]) -> None:
        for event in events:
            self.apply(event)

    # -- what a batch needs loaded ------------------------------------------------

    @staticmethod
    def references(event: Fact) -> tuple[list[str], list[str], list[str]]:
        """The request, bundle and change ids an event reads or changes."""
        topic, d = event.topic, event.data
        owner = topic.partition(":")[2].partition(".")[0]
        if owner == "ChangeRequest":
            return [event.aggregate_id], [], []
        if owner == "ReleaseBundle":
            requests = [d["request_id"]] if "request_id" in d else list(d.get("request_ids") or [])
            changes = [d["change_id"]] if topic == c.BUNDLE_ROLLED_BACK.topic else []
            return [str(r) for r in requests], [event.aggregate_id], [str(x) for x in changes]
        if owner == "ProductionChange":
            return [], [], [event.aggregate_id]
        return [], [], []

    # -- requests -----------------------------------------------------------------

    def _request(self, event: Fact) -> RequestRecord | None:
        found = self.history.requests.get(event.aggregate_id)
        if found is not None:
            self.touched.requests.add(found.id)
        return found

    def _submitted(self, e: Fact, at: str) -> None:
        d = e.data
        r = RequestRecord(
            id=e.aggregate_id,
            title=d["title"],
            department=d["department"],
            category=d["category"],
            subsystems=list(d["subsystems"]),
            submitted_at=at,
            desired_date=d.get("desired_date"),
        )
        r.move("submitted", at)
        self.history.requests[r.id] = r
        self.touched.requests.add(r.id)

    def _edited(self, e: Fact, at: str) -> None:
        if r := self._request(e):
            r.title = e.data["title"]
            r.category = e.data["category"]
            r.subsystems = list(e.data["subsystems"])
            r.desired_date = e.data.get("desired_date")

    def _moved(self, stage: str) -> Handler:
        def handle(e: Fact, at: str) -> None:
            if r := self._request(e):
                r.move(stage, at)

        return handle

    def _accepted(self, e: Fact, at: str) -> None:
        if r := self._request(e):
            r.triaged_at = r.triaged_at or at
            r.accepted_at = r.accepted_at or at
            self._plan(r, e.data)
            r.move("accepted", at)

    @staticmethod
    def _plan(r: RequestRecord, d: dict[str, Any]) -> None:
        r.size_points = d.get("size_points")
        r.class_of_service = d.get("class_of_service")
        r.fixed_date = d.get("fixed_date")

    def _replanned(self, e: Fact, at: str) -> None:
        if r := self._request(e):
            self._plan(r, e.data)

    def _triaged(self, e: Fact, at: str) -> None:
        if r := self._request(e):
            r.triaged_at = r.triaged_at or at
            r.move(TRIAGE_OUTCOME[e.topic], at)

    def _delivered(self, e: Fact, at: str) -> None:
        if r := self._request(e):
            r.delivered_at = r.delivered_at or at
            r.move("delivered", at)

    def _rated(self, e: Fact, at: str) -> None:
        if r := self._request(e):
            r.rating = int(e.data["score"])
            r.rated_at = at

    def _ranking_started(self, e: Fact, at: str) -> None:
        self.history.rankings[e.aggregate_id] = RankingRecord(e.aggregate_id, e.data["department"])
        self.touched.rankings.add(e.aggregate_id)

    def _reordered(self, e: Fact, at: str) -> None:
        ranking = self.history.rankings.get(e.aggregate_id)
        if ranking is not None:
            ranking.order = [str(i) for i in e.data["order"]]
            self.touched.rankings.add(ranking.id)

    # -- release bundles ------------------------------------------------------------

    def _bundle(self, e: Fact) -> BundleRecord | None:
        found = self.history.bundles.get(e.aggregate_id)
        if found is not None:
            self.touched.bundles.add(found.id)
        return found

    def _request_by_id(self, request_id: str) -> RequestRecord | None:
        found = self.history.requests.get(str(request_id))
        if found is not None:
            self.touched.requests.add(found.id)
        return found

    def _planned(self, e: Fact, at: str) -> None:
        d = e.data
        b = BundleRecord(
            id=e.aggregate_id,
            name=d["name"],
            planned_at=at,
            deploy_date=d.get("deploy_date"),
            window_start=d.get("window_start"),
            window_end=d.get("window_end"),
            planned_window_start=d.get("window_start"),
            planned_window_end=d.get("window_end"),
        )
        self.history.bundles[b.id] = b
        self.touched.bundles.add(b.id)

    def _bundle_moved(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            b.moves.append({"at": at, "from": b.deploy_date, "to": e.data.get("deploy_date")})
            b.deploy_date = e.data.get("deploy_date")
            b.window_start = e.data.get("window_start")
            b.window_end = e.data.get("window_end")

    def _cancelled(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            b.cancelled_at = b.cancelled_at or at
            for request_id in b.request_ids:
                self._unschedule(request_id, b.id, at)
            b.request_ids = []

    def _unschedule(self, request_id: str, bundle_id: str, at: str) -> None:
        r = self._request_by_id(request_id)
        if r is not None and r.bundle_id == bundle_id:
            r.bundle_id = None
            if r.stage in SCHEDULED_OR_LATER:
                r.move("accepted", at)

    def _scheduled(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            request_id = str(e.data["request_id"])
            if request_id not in b.request_ids:
                b.request_ids.append(request_id)
            b.scheduled[request_id] = at
            if e.data.get("after_freeze"):
                b.added_after_freeze += 1
            r = self._request_by_id(request_id)
            if r is not None and r.open:
                r.bundle_id = b.id
                if r.stage == "accepted":
                    r.move("scheduled", at)

    def _unscheduled(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            request_id = str(e.data["request_id"])
            if request_id in b.request_ids:
                b.request_ids.remove(request_id)
            b.scheduled.pop(request_id, None)
            if e.data.get("after_freeze"):
                b.removed_after_freeze += 1
            self._unschedule(request_id, b.id, at)

    def _frozen(self, e: Fact, at: str) -> None:
        if (b := self._bundle(e)) and b.frozen_at is None:
            b.frozen_at = at
            b.scope_at_freeze = len(b.request_ids)

    def _progressed(self, e: Fact, at: str) -> None:
        stage = PROGRESS.get(str(e.data.get("stage")))
        r = self._request_by_id(str(e.data["request_id"]))
        if stage is not None and r is not None and r.stage in WORK_STAGES:
            r.move(stage, at)

    def _signed_off(self, e: Fact, at: str) -> None:
        for request_id in e.data.get("request_ids") or []:
            r = self._request_by_id(str(request_id))
            if r is not None and r.stage in SCHEDULED_OR_LATER:
                r.move("awaiting_deployment", at)

    def _approved_for_deployment(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            b.change_id = e.data.get("change_id")

    def _deployed(self, e: Fact, at: str) -> None:
        if (b := self._bundle(e)) and b.deployed_at is None:
            b.deployed_at = at
            b.change_id = e.data.get("change_id") or b.change_id
            b.shipped = [str(i) for i in e.data.get("request_ids") or []]

    def _rolled_back(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            b.rolled_back_at = b.rolled_back_at or at
        change = self.history.changes.get(str(e.data.get("change_id")))
        if change is not None:
            change.rolled_back_at = change.rolled_back_at or at
            self.touched.changes.add(change.id)

    # -- production changes and deployment reports -----------------------------------

    def _change(self, e: Fact) -> ChangeRecord | None:
        found = self.history.changes.get(e.aggregate_id)
        if found is not None:
            self.touched.changes.add(found.id)
        return found

    def _raised(self, e: Fact, at: str) -> None:
        d = e.data
        change = ChangeRecord(
            id=e.aggregate_id,
            change_type=d["change_type"],
            title=d["title"],
            raised_at=at,
            bundle_id=d.get("bundle_id"),
            subsystems=list(d.get("subsystems") or []),
        )
        self.history.changes[change.id] = change
        self.touched.changes.add(change.id)

    def _change_approved(self, e: Fact, at: str) -> None:
        if change := self._change(e):
            change.approved_at = change.approved_at or at

    def _change_rejected(self, e: Fact, at: str) -> None:
        if change := self._change(e):
            change.rejected_at = change.rejected_at or at

    def _completed(self, e: Fact, at: str) -> None:
        if (change := self._change(e)) and change.completed_at is None:
            change.completed_at = at
            change.outcome = e.data["outcome"]

    def _deployment(self, e: Fact, at: str) -> None:
        d = e.data
        try:
            deployed_at = to_utc(str(d["deployed_at"])) if d.get("deployed_at") else at
        except ValueError:
            deployed_at = at  # an unparseable pipeline time: when it was recorded
        record = DeploymentRecord(
            id=e.aggregate_id,
            at=deployed_at,
            pipeline=str(d.get("pipeline") or ""),
            subsystem=str(d.get("subsystem") or ""),
            version=str(d.get("version") or ""),
            unauthorised=bool(d.get("unauthorised")),
            change_id=d.get("change_id"),
        )
        self.history.deployments[record.id] = record
        self.touched.deployments.add(record.id)

    def _handlers(self) -> dict[str, Handler]:
        return {
            c.REQUEST_SUBMITTED.topic: self._submitted,
            c.REQUEST_EDITED.topic: self._edited,
            c.REQUEST_INFO_REQUESTED.topic: self._moved("info_requested"),
            c.REQUEST_INFO_PROVIDED.topic: self._moved("submitted"),
            c.REQUEST_ACCEPTED.topic: self._accepted,
            c.REQUEST_REJECTED.topic: self._triaged,
            c.REQUEST_DEFERRED.topic: self._triaged,
            c.REQUEST_DUPLICATE.topic: self._triaged,
            c.REQUEST_WITHDRAWN.topic: self._moved("withdrawn"),
            c.REQUEST_REPLANNED.topic: self._replanned,
            c.REQUEST_DELIVERED.topic: self._delivered,
            c.REQUEST_RATED.topic: self._rated,
            c.RANKING_STARTED.topic: self._ranking_started,
            c.RANKING_REORDERED.topic: self._reordered,
            c.BUNDLE_PLANNED.topic: self._planned,
            c.BUNDLE_MOVED.topic: self._bundle_moved,
            c.BUNDLE_CANCELLED.topic: self._cancelled,
            c.REQUEST_SCHEDULED.topic: self._scheduled,
            c.REQUEST_UNSCHEDULED.topic: self._unscheduled,
            c.SCOPE_FROZEN.topic: self._frozen,
            c.ITEM_PROGRESSED.topic: self._progressed,
            c.QA_SIGNED_OFF.topic: self._signed_off,
            c.BUNDLE_APPROVED_FOR_DEPLOYMENT.topic: self._approved_for_deployment,
            c.BUNDLE_DEPLOYED.topic: self._deployed,
            c.BUNDLE_ROLLED_BACK.topic: self._rolled_back,
            c.CHANGE_RAISED.topic: self._raised,
            c.CHANGE_APPROVED.topic: self._change_approved,
            c.CHANGE_REJECTED.topic: self._change_rejected,
            c.CHANGE_COMPLETED.topic: self._completed,
            c.DEPLOYMENT_REPORTED.topic: self._deployment,
        }


TOPICS = frozenset(Folder(History()).topics)
