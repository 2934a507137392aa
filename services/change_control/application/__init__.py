"""Change control use cases: each loads one aggregate, makes one decision, saves it.

`changes.py` raises, revises, approves and implements production changes; `catalogue.py`
keeps blackout windows and standard templates; `deployments.py` records what pipelines
report.
"""

from __future__ import annotations

from uuid import UUID

from services.change_control.domain.risk import ApprovalPolicy, Reviewer, Risk
from shared.domain import NotFound
from shared.identity.domain import Principal, Role
from shared.settings import Settings


def approval_policy(settings: Settings) -> ApprovalPolicy:
    """The approval policy as configured (README: configuration)."""
    return ApprovalPolicy(
        low=settings.cab_approvals_low,
        medium=settings.cab_approvals_medium,
        high=settings.cab_approvals_high,
        operations_approver_for=frozenset(Risk(r) for r in settings.cab_operations_approver_for),
        emergency=settings.cab_emergency_approvals,
    )


def reviewer(principal: Principal) -> Reviewer:
    return Reviewer(
        username=principal.username,
        cab_member=principal.has(Role.CAB_MEMBER),
        team=principal.team.value if principal.team else None,
    )


def parse_id(value: str | UUID, what: str) -> UUID:
    """An id from a path or body; anything else is a 404 naming what was looked for."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except ValueError:
        rule = what.replace(" ", "_") + "_not_found"
        raise NotFound(rule, f"no {what} with id {value!r}") from None
