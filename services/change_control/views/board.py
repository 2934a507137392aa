"""What the CAB and everyone else read: a change with its gates, conflicts and history;
the CAB queue of changes awaiting my approval; the change calendar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from services.change_control.domain import BEFORE_START, ENDED, Status
from services.change_control.domain.gates import Gate
from services.change_control.domain.risk import Requirement
from services.change_control.domain.values import ChangeType, Window
from services.change_control.views import ChangeControlViews, ChangeFilter, DeploymentFilter

OPEN = tuple(s.value for s in Status if s not in ENDED)


def with_gates(
    views: ChangeControlViews,
    change: dict[str, Any],
    board: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The change with its gates (`board`: the CAB as it stands, when the caller has read
    it already for several changes), conflicts, blackouts and what it ships."""
    bundle = views.bundle(change["bundle_id"]) if change["bundle_id"] else None
    gates = [asdict(g) for g in views.gates(change, bundle)]
    if board is None and views.board is not None:
        board = views.board()
    if board is not None and (reachable := _approvers_gate(change, board)):
        gates.append(asdict(reachable))
    return {
        **change,
        "gates": gates,
        "gates_met": all(g["met"] or g["advisory"] for g in gates),
        "conflicts": views.conflicts(change["id"]),
        "blackouts": views.blackouts_hitting(change["id"]),
        "bundle": _shipped(bundle),
    }


def _shipped(bundle: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a release deployment ships: its bundle, and how many requests are in scope
    (a CAB member judging the change sees what it deploys, not only its subsystems)."""
    if bundle is None:
        return None
    return {
        "bundle_id": bundle["bundle_id"],
        "name": bundle["name"],
        "deploy_date": bundle["deploy_date"],
        "requests": len(bundle["scope"]),
    }


def change_detail(views: ChangeControlViews, change_id: str) -> dict[str, Any] | None:
    """A change with its gates, conflicts, blackouts, linked deployments and history."""
    change = views.change(change_id)
    if change is None:
        return None
    # Those reported under it, and those that named it and were not taken as under it
    # (outside its window, say): flagged unauthorised, on its page too.
    deployments, _ = views.deployments(DeploymentFilter(about_change=change_id), limit=500)
    return {
        **with_gates(views, change),
        "deployments": deployments,
        "history": views.history(change_id),
    }


def awaiting(change: dict[str, Any], username: str) -> str | None:
    """What `username` could still add to the change: `approval`, `emergency_approval`,
    `retrospective_approval`, or nothing (None)."""
    if involved(change, username):
        return None  # separation of duties: never theirs to approve
    if change["change_type"] == ChangeType.STANDARD or change["status"] not in OPEN:
        return None
    if change["change_type"] == ChangeType.EMERGENCY and change["board"] == "emergency":
        counted = set(change["approvers"]) | {a["by"] for a in change["retrospective"]}
        if change["retrospectively_approved"] or username in counted:
            return None
        return "retrospective_approval"
    if change["status"] != Status.IN_REVIEW or username in {a["by"] for a in change["approvals"]}:
        return None
    return "emergency_approval" if change["change_type"] == ChangeType.EMERGENCY else "approval"


def may_reject(change: Mapping[str, Any], username: str) -> bool:
    """Whether `username`, a CAB member, may reject the change as the change allows it:
    while it waits for the CAB (in review, or an emergency still owing its approval in
    retrospect) and before work starts, never their own. The CAB queue and the change's
    page offer Reject by this alike."""
    if involved(change, username) or change["status"] not in BEFORE_START:
        return False
    if change["status"] == Status.IN_REVIEW:
        return True
    return (
        change["change_type"] == ChangeType.EMERGENCY
        and change["board"] == "emergency"
        and not change["retrospectively_approved"]
    )


def _approvers_gate(change: Mapping[str, Any], board: Sequence[Mapping[str, Any]]) -> Gate | None:
    """Whether the CAB as it stands can still approve the change (advisory: the board
    may grow before the window): enough members who neither raised nor implement it
    (nor, in retrospect, gave its emergency approval), one of them in operations where
    its risk asks for that. None where no approval is awaited."""
    if change["change_type"] == ChangeType.STANDARD or change["status"] not in OPEN:
        return None
    emergency = change["change_type"] == ChangeType.EMERGENCY
    excluded = {change["requester"], *change["implementers"]}
    if emergency and change["board"] == "emergency":
        if change["retrospectively_approved"]:
            return None
        what, so_far = "in retrospect", change["retrospective"]
        excluded |= set(change["approvers"])
        requirement = needed(change, "retrospective_approval")
    elif change["status"] == Status.IN_REVIEW:
        what, so_far = ("as an emergency" if emergency else "", change["approvals"])
        requirement = needed(change, "emergency_approval" if emergency else "approval")
    else:
        return None
    given = {a["by"] for a in so_far}
    could = [m for m in board if m["by"] not in given and m["by"] not in excluded]
    short = requirement.out_of_reach(so_far, could)
    if short is None and what == "as an emergency":
        # Then in retrospect, by others than whoever gives the emergency approval: said
        # before that approval, not only once it is given.
        after = needed(change, "retrospective_approval")
        both = Requirement(after.approvals + requirement.approvals, after.operations_approver)
        short = both.out_of_reach([], could)
        what, requirement = "in retrospect", after
        need_first = "after its emergency approval, "
    else:
        need_first = ""
    if short is None:
        return Gate("approvers_available", True, "approvers_unavailable",
                    "enough CAB members may approve it", advisory=True)  # fmt: skip
    n = requirement.approvals
    need = f"{need_first}it needs {n} approval{'s' if n > 1 else ''}{' ' + what if what else ''}"
    if requirement.operations_approver:
        need += ", one from operations"
    if need_first:
        need += ", from others than who gave it"
    barred = sorted(
        (_PARTS.index(_part(change, m["by"])), f"{m['by']} {_part(change, m['by'])}")
        for m in board
        if m["by"] in excluded
    )
    why = f" ({'; '.join(said for _, said in barred)})" if barred else ""
    return Gate(
        "approvers_available",
        False,
        "approvers_unavailable",
        f"{need}, and of the CAB {short}{why}: an admin can give the cab_member role to"
        " more of the staff",
        advisory=True,
    )


_PARTS = ("raised it", "implements it", "gave its emergency approval")


def _part(change: Mapping[str, Any], username: str) -> str:
    """Why a CAB member may not approve the change (separation of duties)."""
    if username == change["requester"]:
        return _PARTS[0]
    return _PARTS[1] if username in change["implementers"] else _PARTS[2]


def needed(change: Mapping[str, Any], what: str) -> Requirement:
    if what == "emergency_approval":
        return Requirement(change["emergency_approvals"], False)
    return Requirement(change["required_approvals"], change["operations_approver_required"])


def cab_queue(views: ChangeControlViews, username: str) -> list[dict[str, Any]]:
    """Changes awaiting `username`'s approval, earliest window first, with risk,
    approvals so far and still needed, conflicts, blackouts and gate status."""
    changes, _ = views.find(ChangeFilter(status=OPEN), limit=10_000)
    board = views.board() if views.board is not None else None  # read once for them all
    queue = []
    for change in changes:
        what = awaiting(change, username)
        if what is None:
            continue
        requirement = needed(change, what)
        so_far = (
            change["retrospective"] if what == "retrospective_approval" else change["approvals"]
        )
        queue.append(
            {
                **with_gates(views, change, board),
                "awaiting": what,
                "approvals_needed": requirement.approvals,
                "operations_approver_needed": requirement.operations_approver,
                "approvals_so_far": [a["by"] for a in so_far],
                "may_reject": may_reject(change, username),
            }
        )
    queue.sort(key=lambda c: (c["window_start"] or "9999", c["raised_at"], c["id"]))
    return queue


def involved(change: Mapping[str, Any], username: str) -> bool:
    """Whether `username` asked for `change` or carries it out: separation of duties says
    such a person never approves, rejects or reviews it."""
    return username == change["requester"] or username in change["implementers"]


def review_due(change: Mapping[str, Any]) -> bool:
    """Whether `change` still owes its post-implementation review (a failure, a rollback,
    an emergency, completed)."""
    return (
        change["status"] == Status.COMPLETED
        and bool(change["review_required"])
        and not change["reviewed"]
    )


def owes_review(change: dict[str, Any], username: str) -> bool:
    """Whether `username` may record the review `change` still owes: never theirs when
    they asked for it or carried it out."""
    return review_due(change) and not involved(change, username)


def reviews_due(views: ChangeControlViews, username: str) -> list[dict[str, Any]]:
    """The reviews `username` owes (`owes_review`), the longest waiting first."""
    changes, _ = views.find(ChangeFilter(status=(Status.COMPLETED.value,)), limit=10_000)
    due = [c for c in changes if owes_review(c, username)]
    due.sort(key=lambda c: (c["completed_at"] or "", c["id"]))
    return due


def calendar(
    views: ChangeControlViews, window: Window | None, subsystem: str | None
) -> dict[str, Any]:
    """Changes and blackouts by window: what is planned when, and what collides."""
    return {
        "changes": views.windows(window, subsystem),
        "blackouts": [
            b
            for b in views.blackouts(window=window)
            if not subsystem
            or not b["subsystems"]
            or subsystem.casefold() in {s.casefold() for s in b["subsystems"]}
        ],
    }
