"""The gates a change passes before approval, and the facts from outside it they read.

The CAB queue and each change's page evaluate the same gates an approval is refused by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from services.change_control.domain.values import ChangeType, Window
from shared.domain import RuleViolation


@dataclass(frozen=True)
class BundleState:
    """What change control knows of a release bundle, from release's facts in the log."""

    bundle_id: str
    name: str
    scope_frozen: bool
    qa_signed_off: bool
    cancelled: bool
    deployed: bool
    window: Window | None = None
    subsystems: tuple[str, ...] = ()
    """Every subsystem a request in its scope touches: what deploying it deploys."""


@dataclass(frozen=True)
class Blackout:
    """A period in which no change may be implemented, for every subsystem or some."""

    blackout_id: str
    name: str
    window: Window
    subsystems: tuple[str, ...] = ()

    def hits(self, window: Window, subsystems: Sequence[str]) -> bool:
        if not self.window.overlaps(window):
            return False
        if not self.subsystems:
            return True
        mine = {s.casefold() for s in self.subsystems}
        return any(s.casefold() in mine for s in subsystems)


@dataclass(frozen=True)
class Clash:
    """Another open change (in review, approved or being implemented) that some of this
    change's implementers are to implement in a window overlapping this one's."""

    reference: str
    title: str
    implementers: tuple[str, ...]
    """The implementers the two changes share."""


@dataclass(frozen=True)
class GateFacts:
    """Facts from outside the change that its gates depend on."""

    bundle: BundleState | None = None
    blackouts: tuple[Blackout, ...] = ()
    clashes: tuple[Clash, ...] = ()


@dataclass(frozen=True)
class Gate:
    """One precondition of approval: met or not, and the rule an approval is refused by.
    An advisory one is shown to the CAB, met or not, and refuses nothing."""

    name: str
    met: bool
    rule: str
    detail: str
    advisory: bool = False
    window_start: str | None = None
    """With `window_end`: the period the gate compares the change's window with (the
    bundle's deployment window), for a page to show in its own time zone."""
    window_end: str | None = None

    @property
    def holds(self) -> bool:
        """Met, or advisory: nothing to refuse an approval for."""
        return self.met or self.advisory


@dataclass(frozen=True)
class GateSubject:
    """The parts of a change its gates look at."""

    change_type: ChangeType
    window: Window | None
    backout_plan: str
    subsystems: Sequence[str]
    bundle_id: str | None = None
    blackouts_exempt: bool = False
    implementers: Sequence[str] = ()


def evaluate_gates(subject: GateSubject, facts: GateFacts) -> list[Gate]:
    """Every gate of the change, in the order a person would check them.

    Emergency changes are exempt from blackouts (an outage during a freeze must still be
    fixable); the overlap is still shown."""
    planned = subject.backout_plan.strip()
    gates = [
        Gate(
            "window",
            subject.window is not None,
            "window_required",
            "a window is planned" if subject.window else "plan a window (start and end)",
        ),
        Gate(
            "backout_plan",
            bool(planned),
            "backout_plan_required",
            "a backout plan is written" if planned else "write how the change is backed out",
        ),
        _blackout_gate(subject, facts.blackouts),
    ]
    if subject.window is not None and subject.implementers:
        gates.append(_implementers_gate(facts.clashes))
    if subject.change_type == ChangeType.RELEASE_DEPLOYMENT:
        gates.extend(_bundle_gates(facts.bundle, subject.bundle_id))
        if facts.bundle is not None and facts.bundle.window is not None:
            gates.append(_bundle_window_gate(facts.bundle, facts.bundle.window, subject.window))
        if facts.bundle is not None and facts.bundle.subsystems:
            gates.append(_bundle_subsystems_gate(facts.bundle, subject.subsystems))
    return gates


def _bundle_subsystems_gate(bundle: BundleState, named: Sequence[str]) -> Gate:
    """Whether the change names every subsystem its bundle's requests touch. Advisory,
    as the bundle's window is: a request scheduled after the change was raised can add
    one, and the pipeline's report of deploying it would then be unauthorised; the CAB
    should see that before approving, and the change be revised."""
    missing = [s for s in bundle.subsystems if s not in set(named)]
    if not missing:
        detail = f"the change names every subsystem {bundle.name}'s requests touch"
    else:
        detail = (
            f"{bundle.name}'s requests also touch {', '.join(missing)}, which the change"
            " does not name: deploying them would be unauthorised. Revise the change"
        )
    return Gate("bundle_subsystems", not missing, "subsystems_not_the_bundles", detail,
                advisory=True)  # fmt: skip


def _implementers_gate(clashes: Sequence[Clash]) -> Gate:
    """Whether the implementers are free in the window: none of them is to implement
    another open change in an overlapping one. Advisory: two small changes by one person
    in one evening can be fine, but the CAB should know before approving both."""
    if not clashes:
        return Gate(
            "implementers_free",
            True,
            "implementers_booked",
            "no implementer has another open change in an overlapping window",
            advisory=True,
        )
    verbs = ("implements", "implement")
    told = "; ".join(
        f"{', '.join(c.implementers)} also {verbs[len(c.implementers) > 1]}"
        f" {c.reference} “{c.title}”"
        for c in clashes
    )
    return Gate(
        "implementers_free",
        False,
        "implementers_booked",
        f"{told} in an overlapping window: is there time for both?",
        advisory=True,
    )


def _bundle_window_gate(bundle: BundleState, planned: Window, window: Window | None) -> Gate:
    """Whether the change's window covers the bundle's deployment window. Advisory: a
    release manager may deploy a bundle in another window on purpose (the on-time rate
    then counts it), but a bundle moved after its change was planned leaves the change
    on the old date, and the CAB should see that before approving it (decision 123)."""
    covered = window is not None and window.start <= planned.start and planned.end <= window.end
    if covered:
        detail = f"the window covers {bundle.name}'s deployment window"
    else:
        detail = (
            f"{bundle.name} deploys {_span(planned)}, outside the change's window: was the"
            " bundle moved? Revise the change to the bundle's window"
        )
    return Gate(
        "bundle_window",
        covered,
        "window_not_the_bundles",
        detail,
        advisory=True,
        window_start=planned.start.isoformat(),
        window_end=planned.end.isoformat(),
    )


def _span(window: Window) -> str:
    """A window in UTC, as a reader compares it with another: 2027-01-27 20:00 to 23:00 UTC."""
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    last = end.strftime("%H:%M") if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M} to {last} UTC"


def _blackout_gate(subject: GateSubject, blackouts: Sequence[Blackout]) -> Gate:
    window = subject.window
    hit = [b for b in blackouts if window is not None and b.hits(window, subject.subsystems)]
    if not hit:
        return Gate("blackout", True, "window_in_blackout", "no blackout overlaps the window")
    names = ", ".join(b.name for b in hit)
    if subject.blackouts_exempt:
        # Shown as a warning, not a tick: the CAB sees the emergency goes ahead in it.
        return Gate(
            "blackout",
            False,
            "window_in_blackout",
            f"the window overlaps {names}: an emergency change may go ahead in a blackout",
            advisory=True,
        )
    return Gate("blackout", False, "window_in_blackout", f"the window overlaps {names}")


def _bundle_gates(bundle: BundleState | None, bundle_id: str | None) -> list[Gate]:
    if bundle is None:
        return [
            Gate("bundle", False, "bundle_not_found", f"no release bundle {bundle_id} is known")
        ]
    name = bundle.name
    state = "cancelled" if bundle.cancelled else "deployed" if bundle.deployed else "to deploy"
    return [
        Gate(
            "bundle_open",
            not (bundle.cancelled or bundle.deployed),
            "bundle_closed",
            f"{name} is {state}",
        ),
        Gate(
            "bundle_scope_frozen",
            bundle.scope_frozen,
            "bundle_scope_not_frozen",
            f"{name}: scope " + ("frozen" if bundle.scope_frozen else "not frozen yet"),
        ),
        Gate(
            "bundle_qa_signed_off",
            bundle.qa_signed_off,
            "bundle_not_qa_signed_off",
            f"{name}: QA " + ("signed off" if bundle.qa_signed_off else "not signed off yet"),
        ),
    ]


def require(gates: Sequence[Gate]) -> None:
    """Refuse with the first unmet gate's rule."""
    for gate in gates:
        if not gate.holds:
            raise RuleViolation(gate.rule, gate.detail, gate=gate.name)
