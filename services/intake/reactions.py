"""Intake follows release: when a bundle is deployed, the requests it shipped are
delivered.

Every request of the deployment is delivered in one save together with the reaction's
mark, so a follower killed at any moment either delivered all of them and recorded that
it did, or nothing; restarted, it never delivers twice.
"""

from __future__ import annotations

from typing import ClassVar

import structlog

from services.intake.application import Intake
from shared import contracts
from shared.application import reacting_to
from shared.store.followers import Reaction
from shared.store.log import LoggedEvent
from shared.store.recorders import ReactionMark

log = structlog.get_logger(__name__)


class DeliverShippedRequests(Reaction):
    """BUNDLE_DEPLOYED -> every request in its `request_ids` is delivered."""

    name: ClassVar[str] = "intake.deliver_shipped_requests"
    topics: ClassVar[frozenset[str]] = frozenset({contracts.BUNDLE_DEPLOYED.topic})

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    def react(self, event: LoggedEvent, mark: ReactionMark) -> None:
        request_ids = [str(r) for r in event.data["request_ids"]]
        with reacting_to(event, mark):
            delivered = self.intake.deliver_shipped(
                request_ids, bundle_id=event.aggregate_id, change_id=event.data.get("change_id")
            )
        log.info(
            "shipped_requests_delivered",
            bundle_id=event.aggregate_id,
            delivered=len(delivered),
            shipped=len(request_ids),
        )
