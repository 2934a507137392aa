"""Test-data builders: a valid request unless a test says otherwise."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.intake.application import RequestDraft
from services.intake.domain import Category, ChangeRequest, SizeEstimate
from shared.settings import DEFAULT_SUBSYSTEMS


def request_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Bill shock alerts by SMS",
        "description": "Text customers when their bill passes a limit they set.",
        "justification": "Bill shock drives 8% of call-centre volume.",
        "sponsor": "Val Sales",
        "category": "business_project",
        "subsystems": ["Billing", "CRM"],
        "size_estimate": "M",
        "desired_date": "2027-03-01",
    }
    payload.update(overrides)
    return payload


def draft(**overrides: Any) -> RequestDraft:
    p = request_payload(**overrides)
    return RequestDraft(
        title=p["title"],
        description=p["description"],
        justification=p["justification"],
        sponsor=p["sponsor"],
        category=Category(p["category"]),
        subsystems=p["subsystems"],
        size_estimate=SizeEstimate(p["size_estimate"]),
        desired_date=date.fromisoformat(p["desired_date"]) if p["desired_date"] else None,
    )


def new_request(
    department: str = "Sales", requester: str = "vp.sales", **overrides: Any
) -> ChangeRequest:
    d = draft(**overrides)
    return ChangeRequest.submit(
        title=d.title,
        description=d.description,
        justification=d.justification,
        department=department,
        sponsor=d.sponsor,
        category=d.category,
        subsystems=d.subsystems,
        size_estimate=d.size_estimate,
        desired_date=d.desired_date,
        requester=requester,
        catalogue=DEFAULT_SUBSYSTEMS,
    )


def submit(api: Any, as_: str = "vp.sales", **overrides: Any) -> str:
    response = api.post("/api/requests", as_, json=request_payload(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def accept(
    api: Any, request_id: str, owner: str = "dev.alice", size_points: int = 5, **extra: Any
) -> None:
    response = api.post(
        f"/api/requests/{request_id}/accept",
        "rm",
        json={"owner": owner, "size_points": size_points, **extra},
    )
    assert response.status_code == 200, response.text
