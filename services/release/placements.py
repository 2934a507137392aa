"""Which bundle, if any, holds each accepted request."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from shared.domain import AuditedAggregate, RuleViolation, name_based_id


def placement_id(request_id: str) -> UUID:
    return name_based_id("request-placement", request_id)


class RequestPlacement(AuditedAggregate):
    """Which bundle, if any, an accepted request is scheduled in: at most one at a time.

    Saved with the bundle it joins or leaves, so two bundles taking the same request at
    once cannot both succeed."""

    @staticmethod
    def create_id(request_id: str) -> UUID:
        return placement_id(request_id)

    @event("Started")
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.bundle_id: str | None = None

    def place(self, bundle: str) -> None:
        if self.bundle_id is not None and self.bundle_id != bundle:
            raise RuleViolation(
                "scheduled_elsewhere",
                f"request {self.request_id} is already scheduled in bundle {self.bundle_id}",
                bundle_id=self.bundle_id,
            )
        self._placed(bundle_id=bundle)

    @event("Placed")
    def _placed(self, bundle_id: str) -> None:
        self.bundle_id = bundle_id

    def vacate(self, bundle: str) -> None:
        if self.bundle_id == bundle:
            self._vacated(bundle_id=bundle)

    @event("Vacated")
    def _vacated(self, bundle_id: str) -> None:
        self.bundle_id = None
