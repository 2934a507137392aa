"""Which requests the dashboard counts: the department, category, subsystem and class of
service its address asks for, read as the metrics API reads them (the same `Filter`), and
each value that names nothing said above the figures rather than dropped without a word."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.metrics.domain.records import Filter, History
from shared.identity.domain import Principal, Role
from shared.web.rendering import label

WHOLE_ORGANISATION = (
    Role.METRICS_READER,
    Role.RELEASE_MANAGER,
    Role.ADMIN,
    Role.IT_STAFF,
    Role.CAB_MEMBER,
)
CATEGORIES = ("business_project", "it_project", "change_maintenance", "unplanned")
"""The API's `category` values (services/metrics/api.py; a test keeps the two alike)."""
CLASSES_OF_SERVICE = ("standard", "expedite", "fixed_date")
"""The API's `class_of_service` values."""


@dataclass(frozen=True)
class Asked:
    """The requests the dashboard counts, and what of its address it could not read."""

    filter: Filter
    everything: bool
    """Whether this viewer sees the whole organisation (else their department's only)."""
    errors: list[str] = field(default_factory=list)
    """A category or class of service that does not exist, named with the ones that do."""

    @property
    def by_request(self) -> bool:
        """Whether a filter that change figures do not take (all but the subsystem) is
        on: the change tiles then count every department's changes, and say so."""
        f = self.filter
        return bool(f.department or f.category or f.class_of_service)

    def params(self) -> dict[str, str]:
        """The filters as an address's parameters (those that are set)."""
        return {k: v for k, v in self.filter.to_json().items() if v}


def _one_of(
    given: str, known: tuple[str, ...], what: str, plural: str, instead: str
) -> tuple[str, str]:
    """(the known value `given` names whatever its case, or "", and what to say if none:
    the values the address takes, as the API takes them)."""
    given = given.strip()
    spelled = {k.casefold(): k for k in known}
    if not given or given.casefold() in spelled:
        return spelled.get(given.casefold(), ""), ""
    named = ", ".join(known)
    return "", f"There is no {what} “{given[:100]}”: showing {instead}. The {plural}: {named}."


def read(
    principal: Principal, department: str, category: str, subsystem: str, class_of_service: str
) -> Asked:
    """A requester who reads no other figures sees their own department only, whatever
    the address says (as the API scopes them); a category or class of service that does
    not exist is left out and named."""
    everything = principal.has(*WHOLE_ORGANISATION)
    chosen, no_category = _one_of(category, CATEGORIES, "category", "categories", "every category")
    cos, no_class = _one_of(
        class_of_service,
        CLASSES_OF_SERVICE,
        "class of service",
        "classes of service",
        "every class of service",
    )
    flt = Filter(
        (department.strip() or None) if everything else principal.department,
        chosen or None,
        subsystem.strip() or None,
        cos or None,
    )
    other = department.strip()
    not_yours = ""
    if not everything and other and other.casefold() != (principal.department or "").casefold():
        # Said, not silently swapped for their own: the address asked for another's.
        not_yours = (
            f"You read your own department's figures ({principal.department}), not"
            f" {other[:100]}'s: showing {principal.department}."
        )
    return Asked(flt, everything, [e for e in (no_category, no_class, not_yours) if e])


def subsystems(history: History) -> list[str]:
    """The subsystems the period's requests and changes name, alphabetically, each once
    whatever its case."""
    named: dict[str, str] = {}
    for r in history.requests.values():
        for s in r.subsystems:
            named.setdefault(s.casefold(), s)
    for c in history.changes.values():
        for s in c.subsystems:
            named.setdefault(s.casefold(), s)
    return sorted(named.values(), key=str.casefold)


def unknown(asked: Asked, history: History, named: list[str]) -> dict[str, Any]:
    """A department or subsystem typed by hand that nothing of the period names gives
    zeros everywhere: which of them does not (the page says so, offering the names the
    period does have). `named`: the period's subsystems (`subsystems`)."""
    f = asked.filter
    touched = {s.casefold() for s in named}  # the period's, as `subsystems` reads them
    return {
        "department": bool(
            asked.everything and f.department and not history.names_department(f.department)
        ),
        "subsystem": bool(f.subsystem and f.subsystem.casefold() not in touched),
    }


def choices(known: tuple[str, ...]) -> list[tuple[str, str]]:
    """A select box's options: each value and its words ("it_project": "IT project")."""
    return [(k, label(k)) for k in known]
