"""Who may call each API operation, written by hand from the README and the product brief
(not read back from the routes): the table the role matrix holds the code to.

Each entry also says how to call the operation for real: which seeded item its path
parameters name and a valid body, so that a call the design allows can succeed.

Kinds of access:
- a set of roles: those roles may; any other role is 403; no token is 401;
- OWN: everyone on their own account (tokens, calendar feeds); only an admin on another's;
- PUBLIC: no token needed (operations endpoints);
- FEED_SECRET: the calendar feed, authenticated by its own secret in the query, never by
  a bearer token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared.identity.domain import Role
from tests.builders import request_payload
from tests.release.builders import train_payload
from tests.security.world import blackout_body, change_body, template_body

R = Role
EVERYONE = frozenset(Role)
# README "Metrics consumers: the event log": metrics_reader, release_manager, admin.
FEED_READERS = frozenset({R.METRICS_READER, R.RELEASE_MANAGER, R.ADMIN})
# README "Metrics consumers: the figures", widened by the lead's decision (commit 3f78360):
# IT staff and the CAB run the process and read the organisation's figures too.
METRICS_READERS = frozenset(
    {R.METRICS_READER, R.RELEASE_MANAGER, R.ADMIN, R.IT_STAFF, R.CAB_MEMBER}
)
# ... and a requester reads the request-flow figures of their own department.
FLOW_READERS = METRICS_READERS | {R.REQUESTER}
# README "As a business VP" and "IT staff: Submit a request for a named department".
SUBMITTERS = frozenset({R.REQUESTER, R.RELEASE_MANAGER, R.IT_STAFF})
REQUESTER = frozenset({R.REQUESTER})
# README "As a business VP (requester)", Comments: the department and IT talk on a request;
# IT alone on a production change ("CAB members: approving, rejecting, reviewing").
IT_TALK = frozenset({R.RELEASE_MANAGER, R.IT_STAFF, R.CAB_MEMBER})
COMMENTERS = IT_TALK | {R.REQUESTER}
# README "As the release manager (triage board)": reject and withdraw; a VP withdraws too.
WITHDRAWERS = frozenset({R.REQUESTER, R.RELEASE_MANAGER})
RELEASE_MANAGER = frozenset({R.RELEASE_MANAGER})
# README "As IT staff: progress and QA".
IT_STAFF = frozenset({R.IT_STAFF})
# README "IT staff: raising a production change": IT staff (and release managers).
RAISERS = frozenset({R.IT_STAFF, R.RELEASE_MANAGER})
# README "CAB members: approving, rejecting, reviewing".
CAB = frozenset({R.CAB_MEMBER})
# README "Release managers and admins keep the catalogue of standard changes".
KEEPERS = frozenset({R.RELEASE_MANAGER, R.ADMIN})
# README "Deployment pipelines": a user with the pipeline role reports.
PIPELINE = frozenset({R.PIPELINE})
ADMIN = frozenset({R.ADMIN})

Access = frozenset[Role] | Literal["own", "public", "feed_secret"]
OWN: Access = "own"
PUBLIC: Access = "public"
FEED_SECRET: Access = "feed_secret"

# A body from the ids of the operation's items, by kind (tests/security/world.py KINDS).
Body = Callable[[Mapping[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Expected:
    """What the design says of one operation, and how to call it for real."""

    access: Access
    # Path parameter -> the kind of item it names (world.KINDS), or "self" (the caller's
    # username), "spare_token" / "feed" (the caller's own), or a literal value.
    params: dict[str, str] = field(default_factory=dict)
    body: Body | None = None
    query: dict[str, str] = field(default_factory=dict)
    # Why no caller can get a 2xx from the seeded world (their answer is then 404/409/422).
    no_success: str | None = None


def body(value: dict[str, Any]) -> Body:
    return lambda _: value


def soon(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def ids(**named: str) -> Body:
    """A body naming items: ids(request_id="accepted") -> {"request_id": <an accepted one>}."""
    return lambda items: {k: items[v] for k, v in named.items()}


REASON = body({"reason": "decided at the triage meeting"})

OPERATIONS: dict[tuple[str, str], Expected] = {
    # -- operations: open to monitoring, no token -----------------------------------
    ("GET", "/healthz"): Expected(PUBLIC),
    ("GET", "/readyz"): Expected(PUBLIC),
    ("GET", "/metrics"): Expected(PUBLIC),
    # -- people and tokens (README "People and tokens (admin)") ----------------------
    ("GET", "/api/me"): Expected(EVERYONE),
    ("GET", "/api/users"): Expected(ADMIN),
    ("POST", "/api/users"): Expected(
        ADMIN,
        body=body({"username": "vp.finance", "roles": ["requester"], "department": "Finance"}),
    ),
    ("GET", "/api/users/{username}"): Expected(OWN, {"username": "self"}),
    ("PUT", "/api/users/{username}/profile"): Expected(
        ADMIN, {"username": "leaver"}, body({"roles": ["it_staff"], "team": "qa"})
    ),
    ("POST", "/api/users/{username}/deactivate"): Expected(
        ADMIN, {"username": "leaver"}, body({"reason": "left the company"})
    ),
    ("POST", "/api/users/{username}/reactivate"): Expected(
        ADMIN, {"username": "former"}, body({"reason": "back from leave"})
    ),
    # "Everyone may issue and revoke their own tokens."
    ("GET", "/api/users/{username}/tokens"): Expected(OWN, {"username": "self"}),
    ("POST", "/api/users/{username}/tokens"): Expected(
        OWN, {"username": "self"}, body({"label": "laptop", "expires_in_days": 90})
    ),
    ("POST", "/api/tokens/{token_id}/revoke"): Expected(
        OWN, {"token_id": "spare_token"}, body({"reason": "lost the laptop"})
    ),
    # -- the event feed ---------------------------------------------------------------
    ("GET", "/api/events"): Expected(FEED_READERS, query={"limit": "5"}),
    ("GET", "/api/events/stream"): Expected(FEED_READERS, query={"max_events": "1"}),
    # -- intake: everyone finds and reads requests ("Everyone: finding things") -------
    ("GET", "/api/subsystems"): Expected(EVERYONE),
    ("GET", "/api/requests"): Expected(EVERYONE),
    ("GET", "/api/requests/similar"): Expected(EVERYONE, query={"title": "bill alerts"}),
    ("GET", "/api/requests/counts"): Expected(EVERYONE),
    ("GET", "/api/triage-queue"): Expected(EVERYONE),
    ("GET", "/api/requests/{request_id}"): Expected(EVERYONE, {"request_id": "submitted"}),
    ("GET", "/api/departments"): Expected(EVERYONE),
    ("GET", "/api/departments/{department}/ranking"): Expected(EVERYONE, {"department": "Sales"}),
    ("POST", "/api/requests"): Expected(
        SUBMITTERS, body=body(request_payload(title="Itemised roaming charges", department="Sales"))
    ),
    # The requester's own routes (README "As a business VP").
    ("PUT", "/api/requests/{request_id}"): Expected(
        REQUESTER, {"request_id": "submitted"}, body(request_payload(title="Bill shock alerts"))
    ),
    ("POST", "/api/requests/{request_id}/withdraw"): Expected(
        WITHDRAWERS, {"request_id": "submitted"}, REASON
    ),
    ("POST", "/api/requests/{request_id}/information"): Expected(
        REQUESTER, {"request_id": "questioned"}, body({"answer": "Monthly consumer bills."})
    ),
    ("POST", "/api/requests/{request_id}/rating"): Expected(
        REQUESTER, {"request_id": "delivered"}, body({"score": 4, "comment": "Works well."})
    ),
    ("POST", "/api/requests/{request_id}/comments"): Expected(
        COMMENTERS, {"request_id": "submitted"}, body({"text": "Monthly bills only, please."})
    ),
    ("PUT", "/api/departments/{department}/ranking"): Expected(
        REQUESTER,
        {"department": "Sales"},
        lambda items: {"order": [items["to_schedule"], items["accepted"]]},
    ),
    # Triage (README "As the release manager (triage board)").
    ("POST", "/api/requests/{request_id}/accept"): Expected(
        RELEASE_MANAGER,
        {"request_id": "submitted"},
        body({"owner": "dev.alice", "size_points": 5, "class_of_service": "standard"}),
    ),
    ("POST", "/api/requests/{request_id}/reject"): Expected(
        RELEASE_MANAGER, {"request_id": "submitted"}, REASON
    ),
    ("POST", "/api/requests/{request_id}/defer"): Expected(
        RELEASE_MANAGER, {"request_id": "submitted"}, body({"reason": "next quarter"})
    ),
    ("POST", "/api/requests/{request_id}/ask"): Expected(
        RELEASE_MANAGER, {"request_id": "submitted"}, body({"question": "For which bills?"})
    ),
    ("POST", "/api/requests/{request_id}/duplicate"): Expected(
        RELEASE_MANAGER, {"request_id": "submitted"}, ids(duplicate_of="original")
    ),
    ("POST", "/api/requests/{request_id}/owner"): Expected(
        RELEASE_MANAGER, {"request_id": "accepted"}, body({"owner": "qa.quinn"})
    ),
    ("POST", "/api/requests/{request_id}/replan"): Expected(
        RELEASE_MANAGER,
        {"request_id": "accepted"},
        body({"size_points": 8, "class_of_service": "expedite"}),
    ),
    # -- release: trains and bundles (README "trains, bundles and scope") -------------
    ("GET", "/api/trains"): Expected(EVERYONE),
    ("GET", "/api/trains/{train_id}"): Expected(EVERYONE, {"train_id": "train"}),
    ("POST", "/api/trains"): Expected(
        RELEASE_MANAGER, body=body(train_payload(name="Fortnightly fixes"))
    ),
    ("POST", "/api/trains/{train_id}/bundles"): Expected(
        RELEASE_MANAGER, {"train_id": "train"}, body({"count": 4})
    ),
    ("GET", "/api/bundles"): Expected(EVERYONE),
    ("GET", "/api/bundles/{bundle_id}"): Expected(EVERYONE, {"bundle_id": "bundle"}),
    ("GET", "/api/bundles/{bundle_id}/history"): Expected(EVERYONE, {"bundle_id": "bundle"}),
    ("GET", "/api/bundles/{bundle_id}/churn"): Expected(EVERYONE, {"bundle_id": "bundle"}),
    ("GET", "/api/bundles/{bundle_id}/as-of"): Expected(
        EVERYONE, {"bundle_id": "bundle"}, query={"on": soon(0)}
    ),
    ("GET", "/api/bundles/{bundle_id}/notes.md"): Expected(EVERYONE, {"bundle_id": "bundle"}),
    ("GET", "/api/bundles/{bundle_id}/notes.html"): Expected(EVERYONE, {"bundle_id": "bundle"}),
    ("POST", "/api/bundles/{bundle_id}/move"): Expected(
        RELEASE_MANAGER,
        {"bundle_id": "bundle"},
        body({"deploy_date": soon(75), "reason": "the data centre move"}),
    ),
    ("POST", "/api/bundles/{bundle_id}/cancel"): Expected(
        RELEASE_MANAGER, {"bundle_id": "bundle"}, REASON
    ),
    ("POST", "/api/bundles/{bundle_id}/capacity"): Expected(
        RELEASE_MANAGER,
        {"bundle_id": "bundle"},
        body({"capacity_points": 30, "subsystem_capacity": {"Billing": 10}, "reason": "hires"}),
    ),
    ("POST", "/api/bundles/{bundle_id}/freeze"): Expected(
        RELEASE_MANAGER, {"bundle_id": "bundle"}, body({"note": "scope agreed"})
    ),
    ("POST", "/api/bundles/{bundle_id}/requests"): Expected(
        RELEASE_MANAGER, {"bundle_id": "bundle"}, ids(request_id="to_schedule")
    ),
    ("POST", "/api/bundles/{bundle_id}/requests/{request_id}/remove"): Expected(
        RELEASE_MANAGER, {"bundle_id": "bundle", "request_id": "in_bundle"}, body({})
    ),
    ("POST", "/api/bundles/{bundle_id}/requests/{request_id}/pull"): Expected(
        RELEASE_MANAGER,
        {"bundle_id": "bundle", "request_id": "failed"},
        body({"reason": "failed regression tests"}),
    ),
    ("POST", "/api/bundles/{bundle_id}/requests/{request_id}/progress"): Expected(
        IT_STAFF,
        {"bundle_id": "bundle", "request_id": "in_bundle"},
        body({"stage": "in_development", "note": "started"}),
    ),
    # QA signs off (the IT staff caller is on the QA team).
    ("POST", "/api/bundles/{bundle_id}/sign-off"): Expected(
        IT_STAFF, {"bundle_id": "passed_bundle"}, body({"note": "all passed"})
    ),
    # -- release: the plan and the calendar (README "the plan and the calendar") ------
    ("GET", "/api/plan"): Expected(EVERYONE, query={"department": "Sales"}),
    ("GET", "/api/plan/suggestion"): Expected(EVERYONE),
    ("POST", "/api/plan/apply"): Expected(
        RELEASE_MANAGER,
        params={},
        body=lambda items: {
            "items": [{"request_id": items["to_schedule"], "bundle_id": items["bundle"]}]
        },
    ),
    ("GET", "/api/calendar.ics"): Expected(EVERYONE),
    ("GET", "/api/calendar/feed.ics"): Expected(FEED_SECRET),
    ("GET", "/api/calendar/feeds"): Expected(EVERYONE),
    ("POST", "/api/calendar/feeds"): Expected(EVERYONE, body=body({"label": "Outlook"})),
    ("POST", "/api/calendar/feeds/{feed_id}/revoke"): Expected(
        OWN, {"feed_id": "feed"}, body({"reason": "new phone"})
    ),
    # -- change control (README "IT staff: raising a production change", "CAB") -------
    ("POST", "/api/changes"): Expected(RAISERS, body=body(change_body(title="Patch CRM"))),
    ("GET", "/api/changes"): Expected(EVERYONE),
    ("GET", "/api/cab-queue"): Expected(CAB),
    ("GET", "/api/change-calendar"): Expected(EVERYONE),
    ("GET", "/api/changes/{change_id}"): Expected(EVERYONE, {"change_id": "in_review"}),
    # The IT staff caller implements the change; a release manager may revise any.
    ("PUT", "/api/changes/{change_id}"): Expected(
        RAISERS,
        {"change_id": "in_review"},
        body(
            {
                k: v
                for k, v in change_body(title="Patch the billing DB").items()
                if k != "change_type"
            }
        ),
    ),
    ("POST", "/api/changes/{change_id}/withdraw"): Expected(
        RAISERS, {"change_id": "in_review"}, REASON
    ),
    ("POST", "/api/changes/{change_id}/approve"): Expected(
        CAB, {"change_id": "in_review"}, body({"revision": 1, "comment": "low risk"})
    ),
    ("POST", "/api/changes/{change_id}/reject"): Expected(
        CAB, {"change_id": "in_review"}, body({"reason": "no test evidence"})
    ),
    ("POST", "/api/changes/{change_id}/comments"): Expected(
        IT_TALK, {"change_id": "in_review"}, body({"text": "Is the backout timed?"})
    ),
    ("POST", "/api/changes/{change_id}/start"): Expected(IT_STAFF, {"change_id": "approved"}),
    ("POST", "/api/changes/{change_id}/complete"): Expected(
        IT_STAFF, {"change_id": "started"}, body({"outcome": "succeeded"})
    ),
    ("POST", "/api/changes/{change_id}/review"): Expected(
        CAB,
        {"change_id": "failed_change"},
        body({"findings": "The queue was not drained first.", "actions": "Drain it."}),
    ),
    # Blackouts are the release manager's (README "Release managers: blackouts").
    ("GET", "/api/blackouts"): Expected(EVERYONE),
    ("GET", "/api/blackouts/{blackout_id}"): Expected(EVERYONE, {"blackout_id": "blackout"}),
    ("POST", "/api/blackouts"): Expected(
        RELEASE_MANAGER, body=body(blackout_body(name="Black Friday"))
    ),
    ("PUT", "/api/blackouts/{blackout_id}"): Expected(
        RELEASE_MANAGER, {"blackout_id": "blackout"}, body(blackout_body(name="Year-end close"))
    ),
    ("POST", "/api/blackouts/{blackout_id}/lift"): Expected(
        RELEASE_MANAGER, {"blackout_id": "blackout"}, REASON
    ),
    ("GET", "/api/standard-templates"): Expected(EVERYONE),
    ("GET", "/api/standard-templates/{template_id}"): Expected(
        EVERYONE, {"template_id": "template"}
    ),
    ("POST", "/api/standard-templates"): Expected(
        KEEPERS, body=body(template_body(name="Rotate the portal logs"))
    ),
    ("PUT", "/api/standard-templates/{template_id}"): Expected(
        KEEPERS, {"template_id": "template"}, body(template_body(name="Restart the CRM servers"))
    ),
    ("POST", "/api/standard-templates/{template_id}/retire"): Expected(
        KEEPERS, {"template_id": "template"}, REASON
    ),
    # Deployment reports (README "Deployment pipelines"); everyone reads them.
    ("POST", "/api/deployments"): Expected(
        PIPELINE, body=body({"subsystem": "Billing", "version": "4.2.0"})
    ),
    ("GET", "/api/deployments"): Expected(EVERYONE),
    ("GET", "/api/deployments/coverage"): Expected(EVERYONE, query={"subsystem": "Billing"}),
    ("GET", "/api/deployments/counts"): Expected(EVERYONE),
    # A pipeline's own reports by their keys: the seeded world reported none under it.
    ("GET", "/api/deployments/reported"): Expected(
        PIPELINE,
        query={"idempotency_key": "ci-job-1"},
        no_success="no deployment was reported under the key (404 deployment_not_reported)",
    ),
    # -- metrics (README "Metrics consumers: the figures") -----------------------------
    ("GET", "/api/metrics"): Expected(METRICS_READERS),
    ("GET", "/api/metrics/throughput"): Expected(FLOW_READERS),
    ("GET", "/api/metrics/flow-times"): Expected(FLOW_READERS),
    ("GET", "/api/metrics/work-in-progress"): Expected(FLOW_READERS),
    ("GET", "/api/metrics/time-in-state"): Expected(FLOW_READERS),
    ("GET", "/api/metrics/cumulative-flow"): Expected(FLOW_READERS),
    ("GET", "/api/metrics/satisfaction"): Expected(FLOW_READERS),
    ("GET", "/api/metrics/comparison"): Expected(FLOW_READERS),
    ("GET", "/api/metrics/releases"): Expected(METRICS_READERS),
    ("GET", "/api/metrics/dora"): Expected(METRICS_READERS),
    ("GET", "/api/metrics/forecasts"): Expected(METRICS_READERS),
    ("GET", "/api/metrics/forecasts/backlog"): Expected(METRICS_READERS, query={"by": soon(90)}),
    ("GET", "/api/metrics/forecasts/accuracy"): Expected(METRICS_READERS),
    ("GET", "/api/metrics/forecasts/{request_id}"): Expected(
        METRICS_READERS, {"request_id": "accepted"}
    ),
    ("GET", "/api/metrics/reports/weekly/{week}"): Expected(METRICS_READERS, {"week": "2026-W47"}),
    # -- notifications (README "Keeping people informed") -----------------------------
    ("GET", "/api/webhooks"): Expected(ADMIN),
    ("POST", "/api/webhooks"): Expected(
        ADMIN,
        body=body(
            {"url": "https://ci.example.com/railyard", "event_types": ["ProductionChange.*"]}
        ),
    ),
    ("GET", "/api/webhooks/{endpoint_id}"): Expected(ADMIN, {"endpoint_id": "endpoint"}),
    ("PUT", "/api/webhooks/{endpoint_id}"): Expected(
        ADMIN,
        {"endpoint_id": "endpoint"},
        body({"url": "https://hooks.example.com/v2", "event_types": ["*"]}),
    ),
    ("POST", "/api/webhooks/{endpoint_id}/pause"): Expected(
        ADMIN, {"endpoint_id": "endpoint"}, body({"reason": "receiver maintenance"})
    ),
    ("POST", "/api/webhooks/{endpoint_id}/resume"): Expected(
        ADMIN, {"endpoint_id": "paused_endpoint"}
    ),
    ("POST", "/api/webhooks/{endpoint_id}/rotate-secret"): Expected(
        ADMIN, {"endpoint_id": "endpoint"}
    ),
    ("POST", "/api/webhooks/{endpoint_id}/remove"): Expected(ADMIN, {"endpoint_id": "endpoint"}),
    ("GET", "/api/webhooks/{endpoint_id}/deliveries"): Expected(ADMIN, {"endpoint_id": "endpoint"}),
    ("GET", "/api/webhook-deliveries/{delivery_id}/attempts"): Expected(
        ADMIN, {"delivery_id": "1:webhook:endpoint"}
    ),
    ("POST", "/api/webhook-deliveries/{delivery_id}/resend"): Expected(
        ADMIN,
        {"delivery_id": "1:webhook:endpoint"},
        no_success="no delivery is a dead letter without a running dispatcher",
    ),
    ("GET", "/api/me/notifications"): Expected(EVERYONE),
    ("GET", "/api/me/notifications/deliveries"): Expected(EVERYONE),
    ("PUT", "/api/me/notifications/topics/{topic}"): Expected(
        EVERYONE, {"topic": "followed_bundles"}, body({"channel": "digest"})
    ),
    ("PUT", "/api/me/notifications/webhook"): Expected(
        EVERYONE, body=body({"url": "https://chat.example.com/hooks/abc"})
    ),
    ("POST", "/api/me/notifications/webhook/replace-secret"): Expected(EVERYONE),
    ("POST", "/api/me/notifications/follow"): Expected(EVERYONE, body=ids(bundle_id="bundle")),
    ("POST", "/api/me/notifications/unfollow"): Expected(
        EVERYONE, body=ids(bundle_id="followed_bundle")
    ),
}
