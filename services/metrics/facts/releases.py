"""Folding release planning's facts: bundles, their scope and their deployments."""

from __future__ import annotations

from services.metrics.domain.records import WORK_STAGES, BundleRecord
from services.metrics.facts.base import SCHEDULED_OR_LATER, Fact, FoldBase, Handler
from shared import contracts as c

PROGRESS = {
    "in_development": "in_development",
    "ready_for_qa": "in_qa",
    "qa_passed": "awaiting_deployment",
    "qa_failed": "in_development",
}


class ReleaseFacts(FoldBase):
    """Bundles' plans, scope and deployment, and what they do to their requests' stages."""

    def _bundle(self, e: Fact) -> BundleRecord | None:
        h, t = self.history, self.touched
        return self._found(h.bundles, t.bundles, "bundles", e.aggregate_id, BundleRecord)

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
            r.bundles.append([at, None])
            if r.stage in SCHEDULED_OR_LATER:
                r.move("accepted", at)

    def _scheduled(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            request_id = str(e.data["request_id"])
            # Every id of request_ids is in scheduled too: the list, up to some hundred
            # long, is searched only for a request scheduled into this bundle before.
            if request_id not in b.scheduled or request_id not in b.request_ids:
                b.request_ids.append(request_id)
            b.scheduled[request_id] = at
            if e.data.get("after_freeze"):
                b.added_after_freeze += 1
            r = self._request_by_id(request_id)
            if r is not None and r.open:
                if r.bundle_id != b.id:
                    r.bundles.append([at, b.id])
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
        # A bundle rolled back and deployed again counts from its latest deployment.
        if b := self._bundle(e):
            b.deployed_at = at
            b.change_id = e.data.get("change_id") or b.change_id
            b.shipped = [str(i) for i in e.data.get("request_ids") or []]

    def _rolled_back(self, e: Fact, at: str) -> None:
        if b := self._bundle(e):
            b.rolled_back_at = b.rolled_back_at or at
        if change := self._change_by_id(str(e.data.get("change_id"))):
            change.rolled_back_at = change.rolled_back_at or at

    # -- production changes and deployment reports -----------------------------------

    def release_handlers(self) -> dict[str, Handler]:
        return {
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
        }
