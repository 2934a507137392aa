"""Routes for deployment reports: pipelines report; everyone sees the list and counts."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.change_control.api.models import DeploymentBody, DeploymentCounts, DeploymentList
from services.change_control.application.deployments import (
    Coverage,
    DeploymentRef,
    DeploymentReports,
)
from services.change_control.domain.values import now
from services.change_control.views import ChangeControlViews, DeploymentFilter
from shared.http.auth import Auth, Caller
from shared.http.models import Instant
from shared.http.routing import ServiceRouter
from shared.identity.domain import Role


def deployments_router(
    auth: Auth, reports: DeploymentReports, views: ChangeControlViews
) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["change control"])
    anyone = auth.require()
    pipeline = auth.require(Role.PIPELINE)

    @router.post(
        "/deployments",
        response_model=DeploymentRef,
        status_code=201,
        summary="Report a deployment (pipelines): linked to its change or flagged unauthorised",
    )
    def report(body: DeploymentBody, caller: Annotated[Caller, Depends(pipeline)]) -> DeploymentRef:
        with caller.acting():
            return reports.report(
                caller.username, body.subsystem, body.version, body.deployed_at, body.change_id
            )

    @router.get(
        "/deployments",
        response_model=DeploymentList,
        summary="Deployment reports, newest first (unauthorised=true: unauthorised changes)",
    )
    def find(
        caller: Annotated[Caller, Depends(anyone)],
        unauthorised: bool | None = None,
        subsystem: Annotated[str | None, Query(max_length=100)] = None,
        change_id: Annotated[
            str | None, Query(min_length=1, max_length=64, description="Its id, or CHG-7.")
        ] = None,
        pipeline_name: Annotated[str | None, Query(alias="pipeline", max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Any:
        items, total = views.deployments(
            DeploymentFilter(
                unauthorised=unauthorised,
                subsystem=subsystem,
                change_id=reports.change_id_of(change_id) if change_id else None,
                pipeline=pipeline_name,
            ),
            limit=limit,
            offset=offset,
        )
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @router.get(
        "/deployments/coverage",
        response_model=Coverage,
        summary="Would deploying this subsystem now be covered by an approved change?"
        " (the pipeline gate)",
    )
    def coverage(
        caller: Annotated[Caller, Depends(anyone)],
        subsystem: Annotated[str, Query(min_length=1, max_length=100)],
        at: Instant | None = None,
        change_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> Coverage:
        return reports.coverage(subsystem, at or now(), change_id)

    @router.get(
        "/deployments/reported",
        response_model=DeploymentRef,
        summary="The deployment this pipeline reported under an Idempotency-Key, if any"
        " (a re-run of its step asks before deploying again)",
    )
    def reported(
        caller: Annotated[Caller, Depends(pipeline)],
        idempotency_key: Annotated[str, Query(min_length=1, max_length=255)],
    ) -> DeploymentRef:
        return reports.reported(caller.username, idempotency_key)

    @router.get(
        "/deployments/counts",
        response_model=DeploymentCounts,
        summary="How many deployments were authorised, and unauthorised per subsystem",
    )
    def counts(caller: Annotated[Caller, Depends(anyone)]) -> Any:
        return views.deployment_counts()

    return router
