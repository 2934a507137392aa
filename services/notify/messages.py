"""What a person is told about an event: a subject line and a few readable lines.

Only contract fields of other services' events are read (shared/contracts.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared import contracts as c
from shared.references import References
from shared.web.rendering import sentence
from shared.words import words


@dataclass(frozen=True)
class Message:
    subject: str
    lines: tuple[str, ...]
    link: str  # path of the item in the web interface, e.g. /requests/<id>


Facts = Mapping[str, Any]
Describe = Callable[[Facts, Facts], tuple[str, list[str]]]


def _named(references: References, item: Facts, untitled: str = "") -> str:
    """REQ-12 “Bill shock alerts”: the reference, then the quoted title (the title alone
    for an item the lookups hold no number of)."""
    title = f"“{item.get('title') or untitled}”"
    reference = references.of(item.get("number"))
    return f"{reference} {title}" if reference else title


PROGRESSED = {
    "in_development": "In development",
    "ready_for_qa": "Ready for QA",
    "qa_passed": "QA passed",
    "qa_failed": "QA failed",
}
"""A development or QA step, as a message's subject begins."""


def _moment(instant: object) -> str:
    """An instant as a person reads it wherever they are: 2026-12-06 10:08 UTC."""
    if not isinstance(instant, str) or not instant:
        return "?"
    try:
        at = datetime.fromisoformat(instant)
    except ValueError:
        return instant
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


FROM_TO = ("title", "subsystems", "implementers", "window_start", "window_end", "risk")
"""The fields of a revision a message says from and to; others only as changed."""


def _revision_changes(d: Facts) -> list[str]:
    """'Changed: window end from 2027-01-06 21:00 UTC to 2027-01-06 22:00 UTC.'; nothing
    for a revision recorded before revisions named what they changed."""
    previous = d.get("previous") or {}
    named = [
        f"{words(field)} from {_plan_value(field, previous.get(field))}"
        f" to {_plan_value(field, d.get(field))}"
        if field in FROM_TO
        else f"{words(field)} changed"
        for field in d.get("changed") or ()
    ]
    return [f"Changed: {'; '.join(named)}."] if named else []


def _plan_value(field: str, value: object) -> str:
    if value is None or value == []:
        return "none"
    if field.startswith("window_"):
        return _moment(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return f"“{value}”" if field == "title" else words(value)


def _request(item: Facts) -> str:
    return _named(c.REQUEST_REFERENCES, item, "a request")


def change_name(item: Facts) -> str:
    """CHG-7 “Patch DB”."""
    return _named(c.CHANGE_REFERENCES, item)


def _bundle(item: Facts) -> str:
    return f"bundle {item.get('name') or ''}".strip()


def _bundle_first(item: Facts) -> str:
    """'Bundle Monthly business release 2027-01-19': its name as it is written
    (`str.capitalize` made it 'Bundle monthly business release')."""
    return "B" + _bundle(item)[1:]


def _change(item: Facts) -> str:
    return f"change {change_name(item)}"


def _weekly(d: Facts) -> tuple[str, list[str]]:
    """The weekly report's headline, its counts and its key figures (a figure the week
    had no data for is said so, not shown as a number)."""
    n, k = d["counts"], d["key_figures"]

    def number(value: Any) -> str:
        return f"{round(value, 2):g}" if isinstance(value, float) else str(value)  # 4.33, 12.5

    median, rating = k.get("median_cycle_time_days"), k.get("satisfaction")
    deployments, rate = k.get("deployments") or 0, k.get("change_failure_rate")
    figures = [
        "no cycle time (nothing delivered)"
        if median is None
        else f"median cycle time {number(median)} days",
        f"work in progress {number(k.get('work_in_progress') or 0)}",
        "no rating" if rating is None else f"satisfaction {number(rating)} of 5",
        f"{deployments} deployment{'' if deployments == 1 else 's'}"
        + ("" if rate is None else f", change failure rate {rate * 100:.0f}%"),
    ]
    return (
        f"Weekly status report {d['week']}: {n['delivered']} delivered, {n['at_risk']} at risk",
        [
            f"{d['start']} to {d['end']}: {n['submitted']} submitted, {n['triaged']} triaged,"
            f" {n['delivered']} delivered, {n['slipped']} slipped,"
            f" {n['unauthorised_changes']} unauthorised changes.",
            sentence("; ".join(figures)),
        ],
    )


OUTCOMES = {"succeeded": "Succeeded", "failed": "Failed", "rolled_back": "Rolled back"}
"""How a completed change's outcome opens its message."""

# Event type -> (subject, detail lines) from the event's data and what we know of the item.
UNAUTHORISED_BECAUSE = {
    "no_approved_change": "no approved change covers it",
    "unknown_change": "the change it claimed does not exist",
    "change_not_approved": "the change it claimed is not approved",
    "subsystem_not_in_change": "the change it claimed does not name that subsystem",
    "outside_window": "it was deployed outside the claimed change's window",
    "deployed_before_approval": "it was deployed before the change was approved",
    "deployed_after_completion": "it was deployed after the change was completed",
    "unknown_subsystem": "no subsystem of that name is in the catalogue",
}
"""Why a deployment report was flagged, as the release manager reads it (the event's
`reason`; every message said "no approved change covering it", whatever the reason)."""


def _claimed(d: Facts, item: Facts) -> str:
    """The change a report claimed: by its reference when the lookups hold it."""
    claimed = item.get("claimed")
    return f"change {change_name(claimed)}" if claimed else str(d["claimed_change_id"])


DESCRIPTIONS: dict[str, Describe] = {
    c.REQUEST_SUBMITTED.type: lambda d, i: (
        f"New request from {d['department']}: {_request({'title': d['title'], **i})}",
        [f"Category {words(d['category'])}, size {d['size_estimate']}, sponsor {d['sponsor']}."],
    ),
    c.REQUEST_EDITED.type: lambda d, i: (
        f"Edited before triage: {_request(i)}",
        [
            f"Now: category {words(d['category'])}, size {d['size_estimate']},"
            f" subsystems {', '.join(d['subsystems']) or 'none'},"
            f" wanted by {d.get('desired_date') or 'no date'}, sponsor {d['sponsor']}."
        ],
    ),
    c.REQUEST_INFO_PROVIDED.type: lambda d, i: (
        f"Answered: {_request(i)}",
        [f"“{d['answer']}”", "It is back in triage."],
    ),
    c.REQUEST_ACCEPTED.type: lambda d, i: (
        f"Accepted: {_request(i)}",
        [
            f"IT owner (the single point of contact): {d['owner']}.",
            f"Size {d['size_points']} points, class of service {words(d['class_of_service'])}.",
        ],
    ),
    c.REQUEST_REJECTED.type: lambda d, i: (f"Rejected: {_request(i)}", [f"Reason: {d['reason']}"]),
    c.REQUEST_DEFERRED.type: lambda d, i: (
        f"Deferred: {_request(i)}",
        [f"Reason: {d['reason']}"] + ([f"Until {d['until']}."] if d.get("until") else []),
    ),
    c.REQUEST_DUPLICATE.type: lambda d, i: (
        f"Marked as a duplicate: {_request(i)}",
        ["It is tracked under the original request."],
    ),
    c.REQUEST_INFO_REQUESTED.type: lambda d, i: (
        f"Question about {_request(i)}",
        [f"“{d['question']}”", "The requesting department's answer returns it to triage."],
    ),
    c.REQUEST_OWNER_ASSIGNED.type: lambda d, i: (
        f"New IT owner: {_request(i)}",
        [f"Now owned by {d['owner']}; previous owner: {d.get('previous') or 'none'}."],
    ),
    c.REQUEST_WITHDRAWN.type: lambda d, i: (
        f"Withdrawn: {_request(i)}",
        [f"Reason: {d.get('reason') or 'not given'}", "Work on it stops here."],
    ),
    c.REQUEST_SCHEDULED.type: lambda d, i: (
        f"Scheduled: {_request(i)}",
        [
            f"It ships in {_bundle(i)}"
            + (f", deploying {i['deploy_date']}." if i.get("deploy_date") else ".")
        ]
        + ([f"Added after scope freeze: {d['reason']}"] if d.get("after_freeze") else []),
    ),
    c.REQUEST_UNSCHEDULED.type: lambda d, i: (
        f"Taken out of {_bundle(i)}: {_request(i)}",
        [f"Reason: {d.get('reason') or 'not given'}"],
    ),
    c.REQUEST_COMMENTED.type: lambda d, i: (
        f"{i.get('by') or 'Someone'} commented on {_request(i)}",
        [d["text"]],
    ),
    c.REQUEST_DELIVERED.type: lambda d, i: (
        f"Delivered: {_request(i)}",
        ["It is in production: the requesting department can rate how it went."],
    ),
    c.REQUEST_REPLANNED.type: lambda d, i: (
        f"Replanned: {_request(i)}",
        [
            f"Size {d.get('size_points') or '?'} points, class of service"
            f" {str(d.get('class_of_service') or 'standard').replace('_', ' ')}"
            + (f", fixed date {d['fixed_date']}." if d.get("fixed_date") else ".")
        ],
    ),
    c.REQUEST_RATED.type: lambda d, i: (
        f"Rated {d['score']}/5: {_request(i)}",
        ([f"“{d['comment']}”"] if d.get("comment") else [])
        + (["It replaces an earlier rating."] if d.get("replaces") else []),
    ),
    c.BUNDLE_MOVED.type: lambda d, i: (
        f"{_bundle_first(i)} moved to {d['deploy_date']}",
        [f"Reason: {d['reason']}"],
    ),
    c.BUNDLE_CANCELLED.type: lambda d, i: (
        f"{_bundle_first(i)} cancelled",
        [f"Reason: {d['reason']}"],
    ),
    c.SCOPE_FROZEN.type: lambda d, i: (
        f"Scope frozen: {_bundle(i)}",
        ["Changes to its scope are now exceptions."],
    ),
    c.ITEM_PROGRESSED.type: lambda d, i: (
        f"{PROGRESSED.get(str(d.get('stage')), 'Progress')}: {_request(i)}",
        # Who recorded it: another developer, or QA, may move an owner's item.
        [f"In {_bundle(i)}" + (f", recorded by {i['by']}." if i.get("by") else ".")]
        + ([f"Note: {d['note']}"] if d.get("note") else []),
    ),
    c.QA_SIGNED_OFF.type: lambda d, i: (
        f"QA signed off: {_bundle(i)}",
        [f"{len(d['request_ids'])} requests passed QA."],
    ),
    c.BUNDLE_DEPLOYED.type: lambda d, i: (
        f"Deployed: {_bundle(i)}",
        [f"{len(d['request_ids'])} requests reached production."],
    ),
    c.BUNDLE_ROLLED_BACK.type: lambda d, i: (
        f"Rolled back: {_bundle(i)}",
        [f"Reason: {d['reason']}"],
    ),
    c.CHANGE_RAISED.type: lambda d, i: (
        f"Awaiting your approval: {d['change_type'].replace('_', ' ')}"
        f" {_change({'title': d['title'], **i})}",
        [
            f"Risk {d['risk']}; subsystems {', '.join(d['subsystems'])};"
            f" window {_moment(d['window_start'])} to {_moment(d['window_end'])}."
        ],
    ),
    c.CHANGE_REVISED.type: lambda d, i: (
        f"Revised, awaiting the CAB's approval again: {_change(i)}"
        if d.get("approvals_voided")
        else f"Revised: {_change(i)}",
        [
            f"Revision {d['revision']} voided the approvals given so far."
            if d.get("approvals_voided")
            else f"Revision {d['revision']}.",
            *_revision_changes(d),
            f"Risk {d['risk']}; subsystems {', '.join(d['subsystems'])};"
            f" window {_moment(d['window_start'])} to {_moment(d['window_end'])}.",
        ],
    ),
    c.CHANGE_APPROVED.type: lambda d, i: (
        f"Approved: {_change(i)}",
        [f"Approved by {', '.join(d['approvers'])}: it may start in its window."],
    ),
    c.CHANGE_REJECTED.type: lambda d, i: (
        f"Rejected: {_change(i)}",
        [f"Rejected by {d['by']}: {d['reason']}", "A new change may be raised to try again."],
    ),
    c.CHANGE_COMMENTED.type: lambda d, i: (
        f"{i.get('by') or 'Someone'} commented on {_change(i)}",
        [d["text"]],
    ),
    c.CHANGE_WITHDRAWN.type: lambda d, i: (
        f"Withdrawn: {_change(i)}",
        [f"Reason: {d.get('reason') or 'not given'}"],
    ),
    c.CHANGE_IMPLEMENTATION_STARTED.type: lambda d, i: (
        f"Implementation started: {_change(i)}",
        [f"Window {_moment(i.get('window_start'))} to {_moment(i.get('window_end'))}."],
    ),
    c.CHANGE_COMPLETED.type: lambda d, i: (
        f"{OUTCOMES.get(d['outcome'], str(d['outcome']).capitalize())}: {_change(i)}",
        [d["notes"]] if d.get("notes") else [],
    ),
    c.WEEKLY_REPORT_ISSUED.type: lambda d, i: _weekly(d),
    c.DEPLOYMENT_REPORTED.type: lambda d, i: (
        f"Unauthorised change: {d['subsystem']} {d['version']}",
        [
            f"Reported by {d['pipeline']} at {_moment(d['deployed_at'])}:"
            f" {UNAUTHORISED_BECAUSE.get(str(d.get('reason')), 'no approved change covers it')}"
            + (f" (it claimed {_claimed(d, i)})." if d.get("claimed_change_id") else ".")
        ],
    ),
}


def describe(event_type: str, data: Facts, item: Facts, link: str) -> Message:
    subject, lines = DESCRIPTIONS[event_type](data, item)
    return Message(subject=subject, lines=tuple(lines), link=link)
