"""The risk questionnaire, its score, and the approvals each level of risk needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Impact(StrEnum):
    """How bad it is if the change goes wrong."""

    MINOR = "minor"
    MODERATE = "moderate"
    MAJOR = "major"


class Likelihood(StrEnum):
    """How likely it is to go wrong."""

    UNLIKELY = "unlikely"
    POSSIBLE = "possible"
    LIKELY = "likely"


class AffectedUsers(StrEnum):
    """Who notices: none (back office only), some (one department or a few customers),
    many (several departments or a customer segment), all (the call centre or every
    customer)."""

    NONE = "none"
    SOME = "some"
    MANY = "many"
    ALL = "all"


_IMPACT = {Impact.MINOR: 1, Impact.MODERATE: 2, Impact.MAJOR: 3}
_LIKELIHOOD = {Likelihood.UNLIKELY: 1, Likelihood.POSSIBLE: 2, Likelihood.LIKELY: 3}
_USERS = {AffectedUsers.NONE: 0, AffectedUsers.SOME: 1, AffectedUsers.MANY: 2, AffectedUsers.ALL: 3}
UNTESTED_BACKOUT_POINTS = 2
LOW_AT_MOST, MEDIUM_AT_MOST = 4, 8


@dataclass(frozen=True)
class Questionnaire:
    """The four questions of the risk assessment.

    Score = impact (minor 1, moderate 2, major 3) x likelihood (unlikely 1, possible 2,
    likely 3) + affected users (none 0, some 1, many 2, all 3) + 2 when the backout has
    not been tested. Up to 4 is low, 5 to 8 medium, 9 or more high; a change whose
    backout has not been tested is never low.
    """

    impact: Impact
    likelihood: Likelihood
    affected_users: AffectedUsers
    backout_tested: bool

    def score(self) -> int:
        return (
            _IMPACT[Impact(self.impact)] * _LIKELIHOOD[Likelihood(self.likelihood)]
            + _USERS[AffectedUsers(self.affected_users)]
            + (0 if self.backout_tested else UNTESTED_BACKOUT_POINTS)
        )

    def risk(self) -> Risk:
        score = self.score()
        if score <= LOW_AT_MOST and self.backout_tested:
            return Risk.LOW
        if score <= MEDIUM_AT_MOST:
            return Risk.MEDIUM
        return Risk.HIGH

    def as_event(self) -> dict[str, Any]:
        return {
            "impact": Impact(self.impact).value,
            "likelihood": Likelihood(self.likelihood).value,
            "affected_users": AffectedUsers(self.affected_users).value,
            "backout_tested": bool(self.backout_tested),
        }

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> Questionnaire:
        return cls(
            Impact(data["impact"]),
            Likelihood(data["likelihood"]),
            AffectedUsers(data["affected_users"]),
            bool(data["backout_tested"]),
        )


@dataclass(frozen=True)
class Requirement:
    """How many distinct approvals a change needs, and whether one must come from
    operations."""

    approvals: int
    operations_approver: bool

    def met_by(self, approvals: Sequence[Mapping[str, Any]]) -> bool:
        """`approvals` are `{"by": username, "team": team}` entries, one per person."""
        enough = len({a["by"] for a in approvals}) >= self.approvals
        operations = any(a.get("team") == "operations" for a in approvals)
        return enough and (operations or not self.operations_approver)

    def out_of_reach(
        self, so_far: Sequence[Mapping[str, Any]], could: Sequence[Mapping[str, Any]]
    ) -> str | None:
        """Why the approvals given `so_far` and those of the people who `could` still
        give one (CAB members, each `{"by", "team"}`) can never meet it; None when they
        can. A small board, with its only operations member raising the change, left a
        change waiting for an approval nobody was allowed to give."""
        if self.met_by([*so_far, *could]):
            return None
        people = [*so_far, *could]
        count = len({a["by"] for a in people})
        operations = any(a.get("team") == "operations" for a in people)
        if count >= self.approvals:
            return "no one in operations may approve it"
        only = f"only {count} may approve it" if count else "no one may approve it"
        if self.operations_approver and not operations and count:
            return f"{only}, none of them in operations"
        return only


@dataclass(frozen=True)
class ApprovalPolicy:
    """Approvals by risk, and the size of the emergency board; configurable (see the
    README's configuration table)."""

    low: int = 1
    medium: int = 2
    high: int = 3
    operations_approver_for: frozenset[Risk] = frozenset({Risk.HIGH})
    emergency: int = 1

    def required(self, risk: Risk) -> Requirement:
        count = {Risk.LOW: self.low, Risk.MEDIUM: self.medium, Risk.HIGH: self.high}[risk]
        return Requirement(count, risk in self.operations_approver_for)


@dataclass(frozen=True)
class Reviewer:
    """A person approving, rejecting or reviewing a change, as the rules see them."""

    username: str
    cab_member: bool
    team: str | None = None
