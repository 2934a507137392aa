"""The suggested plan: order of service, fairness between departments, capacity."""

from __future__ import annotations

from datetime import date

from services.release.planning import Candidate, OpenBundle, order_of_service, suggest


def candidate(
    request_id: str,
    department: str = "Sales",
    rank: int = 1,
    size: int = 3,
    service: str = "standard",
    fixed: date | None = None,
    subsystems: tuple[str, ...] = ("Billing",),
    accepted_at: str = "2027-01-01T00:00:00+00:00",
) -> Candidate:
    return Candidate(request_id, department, rank, service, size, subsystems, fixed, accepted_at)


def bundles(*capacities: int, subsystem_capacity: dict[str, int] | None = None) -> list[OpenBundle]:
    return [
        OpenBundle(
            f"b{n}", f"Bundle {n}", date(2027, n + 1, 9), capacity, dict(subsystem_capacity or {})
        )
        for n, capacity in enumerate(capacities, start=1)
    ]


def placed(suggestion_: object) -> dict[str, str]:
    return {p.request_id: p.bundle_id for p in suggestion_.proposals}  # type: ignore[attr-defined]


def test_expedite_first_then_fixed_date_by_date_then_ranked_work() -> None:
    """Class of service decides who is served first, whatever the department's rank."""
    order = [
        c.request_id
        for c, _ in order_of_service(
            [
                candidate("standard", rank=1),
                candidate("fixed-late", service="fixed_date", fixed=date(2027, 6, 1)),
                candidate("expedite-new", service="expedite", accepted_at="2027-01-05"),
                candidate("fixed-soon", service="fixed_date", fixed=date(2027, 4, 1)),
                candidate("expedite-old", service="expedite", accepted_at="2027-01-02"),
            ]
        )
    ]
    assert order == ["expedite-old", "expedite-new", "fixed-soon", "fixed-late", "standard"]


def test_departments_interleave_by_rank_and_take_turns_going_first() -> None:
    """Round robin by department rank; the first department rotates every round."""
    backlog = [
        *(candidate(f"care-{r}", "Customer Care", rank=r) for r in (1, 2, 3)),
        *(candidate(f"sales-{r}", "Sales", rank=r) for r in (1, 2, 3)),
        candidate("finance-1", "Finance", rank=1),
    ]
    order = [c.request_id for c, _ in order_of_service(backlog)]
    assert order == [
        "care-1", "finance-1", "sales-1",  # round 1: Customer Care starts
        "sales-2", "care-2",               # round 2: Finance would start, has no second
        "sales-3", "care-3",               # round 3: Sales starts
    ]  # fmt: skip


def test_a_department_rank_is_honoured_not_the_order_of_acceptance() -> None:
    backlog = [
        candidate("older", rank=2, accepted_at="2027-01-01"),
        candidate("favourite", rank=1, accepted_at="2027-02-01"),
    ]
    assert [c.request_id for c, _ in order_of_service(backlog)] == ["favourite", "older"]


def test_bundles_fill_in_date_order_within_capacity() -> None:
    backlog = [candidate(f"s{r}", rank=r, size=4) for r in (1, 2, 3)]
    answer = suggest(backlog, bundles(8, 8))
    assert placed(answer) == {"s1": "b1", "s2": "b1", "s3": "b2"}
    assert answer.unplaced == []


def test_subsystem_capacity_is_respected() -> None:
    backlog = [
        candidate("billing-1", rank=1, size=4, subsystems=("Billing",)),
        candidate("billing-2", rank=2, size=4, subsystems=("Billing", "CRM")),
        candidate("crm-care", "Customer Care", rank=1, size=4, subsystems=("CRM",)),
    ]
    answer = suggest(backlog, bundles(20, 20, subsystem_capacity={"Billing": 5}))
    assert placed(answer) == {"crm-care": "b1", "billing-1": "b1", "billing-2": "b2"}


def test_a_request_left_out_for_a_subsystems_capacity_says_which() -> None:
    """Both bundles have room in total: Billing's capacity is what is full."""
    backlog = [candidate("billing-big", rank=1, size=6, subsystems=("Billing", "CRM"))]
    answer = suggest(backlog, bundles(20, 20, subsystem_capacity={"Billing": 5}))
    (unplaced,) = answer.unplaced
    assert unplaced.why == "no open bundle has room for 6 more points of Billing capacity"


def test_a_fixed_date_request_only_goes_into_a_bundle_deploying_by_its_date() -> None:
    backlog = [
        candidate("big", service="expedite", size=8),
        candidate("due", service="fixed_date", fixed=date(2027, 2, 20), size=4),
    ]
    answer = suggest(backlog, bundles(10, 10))  # bundles deploy 9 February and 9 March
    assert placed(answer) == {"big": "b1"}
    (unplaced,) = answer.unplaced
    assert unplaced.request_id == "due"
    assert "fixed date 2027-02-20" in unplaced.why


def test_a_smaller_request_never_overtakes_its_own_departments_priorities() -> None:
    """Sales' rank-2 request does not jump into an earlier bundle than its rank 1."""
    backlog = [
        candidate("sales-1", rank=1, size=8),
        candidate("care-1", "Customer Care", rank=1, size=4),
        candidate("sales-2", rank=2, size=2),
    ]
    answer = suggest(backlog, bundles(10, 10))
    assert placed(answer) == {"care-1": "b1", "sales-1": "b2", "sales-2": "b2"}


def test_other_departments_may_use_room_left_in_an_earlier_bundle() -> None:
    backlog = [
        candidate("sales-1", rank=1, size=8),
        candidate("care-1", "Customer Care", rank=1, size=6),
        candidate("care-2", "Customer Care", rank=2, size=2),
    ]
    answer = suggest(backlog, bundles(10, 10))
    assert placed(answer) == {"care-1": "b1", "care-2": "b1", "sales-1": "b2"}


def test_what_fits_nowhere_is_reported_with_why() -> None:
    answer = suggest([candidate("huge", size=50)], bundles(10))
    assert answer.proposals == []
    assert answer.unplaced[0].why == "no open bundle has room for 50 more points"
    assert suggest([candidate("any")], []).unplaced[0].why == (
        "no upcoming bundle is open for planning"
    )


def test_existing_load_counts_against_capacity() -> None:
    open_bundles = bundles(10, 10)
    open_bundles[0].load = 9
    answer = suggest([candidate("s1", size=3)], open_bundles)
    assert placed(answer) == {"s1": "b2"}
