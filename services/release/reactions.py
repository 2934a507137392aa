"""Release follows change control: the production change that deploys a bundle decides
when the bundle is approved for deployment, deployed or rolled back.

Change control's events carry the change's id; which bundle a change deploys is known
from its CHANGE_RAISED (`release_deployment` with a `bundle_id`), kept in release's own
view of changes. Each outcome is saved with the reaction's mark, so it happens exactly
once however often the follower restarts.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import structlog

from services.release.application import Releases, StaysInBundle
from services.release.queries import ReleaseViews
from shared import contracts
from shared.application import reacting_to
from shared.store.followers import Reaction
from shared.store.log import LoggedEvent
from shared.store.recorders import ReactionMark

log = structlog.get_logger(__name__)

RELEASE_DEPLOYMENT = "release_deployment"
SUCCEEDED = "succeeded"
UNSUCCESSFUL = frozenset({"failed", "rolled_back"})
# An edit voids the change's approvals; a withdrawal or rejection ends it: either way
# the bundle is no longer approved for deployment by that change.
WITHDRAWING = (contracts.CHANGE_REVISED, contracts.CHANGE_WITHDRAWN, contracts.CHANGE_REJECTED)
WITHDRAWING_TOPICS = frozenset(c.topic for c in WITHDRAWING)


class BundleFollowsItsDeploymentChange(Reaction):
    """CHANGE_APPROVED -> approved for deployment; revised, withdrawn or rejected -> no
    longer approved; CHANGE_COMPLETED succeeded -> deployed; failed or rolled back ->
    rolled back."""

    name: ClassVar[str] = "release.bundle_follows_deployment_change"
    topics: ClassVar[frozenset[str]] = frozenset(
        {
            contracts.CHANGE_APPROVED.topic,
            contracts.CHANGE_COMPLETED.topic,
            *(c.topic for c in WITHDRAWING),
        }
    )

    def __init__(self, releases: Releases, views: ReleaseViews) -> None:
        self.releases = releases
        self.views = views

    def react(self, event: LoggedEvent, mark: ReactionMark) -> None:
        bundle = self._bundle_of(event)
        if bundle is None:
            return
        change_id = event.aggregate_id
        with reacting_to(event, mark):
            if event.topic == contracts.CHANGE_APPROVED.topic:
                self.releases.approve_for_deployment(bundle, change_id)
                return
            if event.topic in WITHDRAWING_TOPICS:
                what = event.type.partition(".")[2].lower()
                self.releases.withdraw_deployment_approval(
                    bundle, change_id, f"the deployment change was {what}"
                )
                return
            outcome = event.data["outcome"]
            if outcome == SUCCEEDED:
                self.releases.deploy(bundle, change_id)
            elif outcome in UNSUCCESSFUL:
                reason = event.data.get("notes") or f"deployment {outcome}"
                self.releases.roll_back(bundle, change_id, outcome, str(reason))
            else:
                log.warning("unknown_change_outcome", change_id=change_id, outcome=outcome)

    def _bundle_of(self, event: LoggedEvent) -> UUID | None:
        """The bundle a release-deployment change deploys; None for any other change."""
        if event.topic == contracts.CHANGE_COMPLETED.topic:
            change_type, bundle = event.data["change_type"], event.data.get("bundle_id")
        else:
            # The raised change comes earlier in the log than its approval: make sure
            # the view has read that far before asking it.
            if self.views.group.position() < event.position:
                self.views.group.catch_up()
            target = self.views.change_target(event.aggregate_id)
            if target is None:
                log.warning("deployment_change_unknown", change_id=event.aggregate_id)
                return None
            change_type, bundle = target
        if change_type != RELEASE_DEPLOYMENT or not bundle:
            return None
        try:
            return UUID(str(bundle))
        except ValueError:
            log.warning("deployment_change_names_no_bundle", change_id=event.aggregate_id)
            return None


class WithdrawnRequestsLeaveTheirBundle(Reaction):
    """REQUEST_WITHDRAWN -> the request leaves the bundle it was scheduled in, while the
    bundle's scope is open; in a signed-off or approved bundle it stays (and is logged,
    naming the bundle), for the release manager to take out or ship with the approved
    build. One that was in no bundle needs nothing (logged at debug level only)."""

    name: ClassVar[str] = "release.withdrawn_requests_leave_their_bundle"
    topics: ClassVar[frozenset[str]] = frozenset({contracts.REQUEST_WITHDRAWN.topic})

    def __init__(self, releases: Releases) -> None:
        self.releases = releases

    def react(self, event: LoggedEvent, mark: ReactionMark) -> None:
        with reacting_to(event, mark):
            left = self.releases.release_withdrawn(
                UUID(event.aggregate_id), str(event.data.get("reason") or "")
            )
        # Only a request left behind in a locked bundle is news, for its release manager:
        # one that was in no bundle (most withdrawals, and all of a new store's history
        # this reaction first catches up over) needed nothing.
        if isinstance(left, StaysInBundle):
            log.info(
                "withdrawn_request_not_unscheduled",
                request_id=event.aggregate_id,
                bundle_id=left.bundle_id,
                bundle_phase=left.phase,
            )
        elif left is None:
            log.debug("withdrawn_request_in_no_bundle", request_id=event.aggregate_id)
