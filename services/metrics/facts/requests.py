"""Folding intake's facts: change requests and department rankings."""

from __future__ import annotations

from typing import Any

from services.metrics.domain.records import RankingRecord, RequestRecord
from services.metrics.facts.base import Fact, FoldBase, Handler
from shared import contracts as c

TRIAGE_OUTCOME = {
    c.REQUEST_REJECTED.topic: "rejected",
    c.REQUEST_DEFERRED.topic: "deferred",
    c.REQUEST_DUPLICATE.topic: "duplicate",
}


class RequestFacts(FoldBase):
    """A request's stage history, triage, delivery and rating; departments' rankings."""

    def _request(self, event: Fact) -> RequestRecord | None:
        return self._request_by_id(event.aggregate_id)

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
        # Numbered as intake numbers it (shared.contracts.REQUEST_REFERENCES): in log order.
        # (A view's batch with a submission knows the count: it reads it before folding.)
        r.number = self.history.submitted = (self.history.submitted or 0) + 1
        r.reference = c.REQUEST_REFERENCES.of(r.number)
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
            ranking.orders.append([at, [str(i) for i in e.data["order"]]])
            self.touched.rankings.add(ranking.id)

    # -- release bundles ------------------------------------------------------------

    def request_handlers(self) -> dict[str, Handler]:
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
        }
