"""The release HTTP contract for trains, bundles, scope and progress: thin routes over
the use cases and the views."""

# No `from __future__ import annotations`: FastAPI must see the route annotations,
# which name dependencies local to the router factory, as objects.
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from services.release.application import (
    BundleRef,
    MovedBundle,
    Releases,
    ScopeChange,
    TrainDraft,
    TrainRef,
)
from services.release.cadence import Cadence, MilestoneOffsets
from services.release.domain import BundleStatus, Stage, now
from services.release.queries import ReleaseViews
from services.release.schemas import (
    AsOf,
    BundleDetail,
    BundleSummary,
    CancelIn,
    CapacityIn,
    Churn,
    FreezeIn,
    GenerateIn,
    HistoryEntry,
    MonthlyCadence,
    MoveIn,
    ProgressIn,
    PullIn,
    RemoveIn,
    ScheduleIn,
    SignOffIn,
    Train,
    TrainDetail,
    TrainIn,
)
from shared.domain import InvalidCommand, NotFound
from shared.http.auth import Auth, Caller
from shared.http.models import Day, LocalInstant
from shared.http.routing import CreatedAt, ServiceRouter
from shared.identity.domain import Role

BundlePath = Annotated[UUID, Path(description="A release bundle's id")]
TrainPath = Annotated[UUID, Path(description="A release train's id")]
RequestPath = Annotated[UUID, Path(description="A change request's id")]


def _draft(body: TrainIn) -> TrainDraft:
    raw = body.cadence
    cadence = (
        Cadence.monthly(raw.weekday, raw.week_of_month, raw.start_date)
        if isinstance(raw, MonthlyCadence)
        else Cadence.every_n_weeks(raw.interval_weeks, raw.start_date)
    )
    return TrainDraft(
        name=body.name,
        cadence=cadence,
        offsets=MilestoneOffsets.parse(body.milestones.model_dump()),
        capacity_points=body.capacity_points,
        subsystem_capacity=body.subsystem_capacity,
        timezone=body.timezone,
    )


def _uuid(value: str, rule: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(rule, f"no {what} with id {value!r}") from None


PLANNED_OR_NOT = CreatedAt("/api/trains/{id}")  # the train's detail lists its bundles
PLANNED_OR_NOT[200] = {"description": "Every date asked for had its bundle: none was planned"}


def _found(views: ReleaseViews, bundle_id: UUID) -> dict[str, Any]:
    bundle = views.bundle(str(bundle_id))
    if bundle is None:
        raise NotFound("release_bundle_not_found", f"no release bundle with id {bundle_id}")
    return bundle


def release_router(auth: Auth, releases: Releases, views: ReleaseViews) -> APIRouter:
    router = ServiceRouter(prefix="/api", tags=["release"])
    _train_routes(router, auth, releases, views)
    _bundle_reads(router, auth, views)
    _bundle_commands(router, auth, releases)
    return router


def _train_routes(router: APIRouter, auth: Auth, releases: Releases, views: ReleaseViews) -> None:
    anyone = auth.require()
    manager = auth.require(Role.RELEASE_MANAGER)
    zone = releases.log.settings.zone

    # -- trains ---------------------------------------------------------------------

    @router.post(
        "/trains",
        response_model=TrainRef,
        status_code=201,
        summary="Define a release train (and plan its upcoming bundles)",
        responses=CreatedAt("/api/trains/{id}"),
    )
    def define_train(body: TrainIn, caller: Annotated[Caller, Depends(manager)]) -> TrainRef:
        draft = _draft(body)
        with caller.acting():
            return releases.define_train(draft, body.generate)

    @router.get("/trains", response_model=list[Train], summary="Every release train")
    def trains(caller: Annotated[Caller, Depends(anyone)]) -> Any:
        return views.trains()

    @router.get(
        "/trains/{train_id}",
        response_model=TrainDetail,
        summary="A train, its next deployment dates and its bundles",
    )
    def train(train_id: TrainPath, caller: Annotated[Caller, Depends(anyone)]) -> Any:
        row = views.train(str(train_id))
        if row is None:
            raise NotFound("release_train_not_found", f"no release train with id {train_id}")
        cadence = Cadence.from_json(row["cadence"])
        today = now().astimezone(zone).date()
        return {
            **row,
            "describes": cadence.describe(),
            "next_dates": [d.isoformat() for d in cadence.upcoming(today, 6)],
            "bundles": views.bundles(train_id=str(train_id)),
        }

    @router.post(
        "/trains/{train_id}/bundles",
        response_model=TrainRef,
        status_code=201,
        summary="Plan the train's next bundles (those not planned yet)",
        responses=PLANNED_OR_NOT,
    )
    def generate(
        train_id: TrainPath,
        body: GenerateIn,
        caller: Annotated[Caller, Depends(manager)],
        response: Response,
    ) -> TrainRef:
        with caller.acting():
            ref = releases.generate_bundles(train_id, body.count)
        if not ref.bundle_ids:  # nothing made: no 201, and no Location to follow
            response.status_code = 200
        return ref


def _bundle_reads(router: APIRouter, auth: Auth, views: ReleaseViews) -> None:
    anyone = auth.require()
    zone = views.log.settings.zone

    def found(bundle_id: UUID) -> dict[str, Any]:
        return _found(views, bundle_id)

    @router.get("/bundles", response_model=list[BundleSummary], summary="Release bundles")
    def bundles(
        caller: Annotated[Caller, Depends(anyone)],
        train_id: UUID | None = None,
        status: Annotated[list[BundleStatus] | None, Query()] = None,
        from_date: Annotated[Day | None, Query(description="Deploying on or after")] = None,
    ) -> Any:
        return views.bundles(
            train_id=str(train_id) if train_id else None,
            status=[s.value for s in status or ()],
            from_date=from_date,
        )

    @router.get(
        "/bundles/{bundle_id}",
        response_model=BundleDetail,
        summary="A bundle: dates, state, capacity and the progress of each item",
    )
    def bundle(bundle_id: BundlePath, caller: Annotated[Caller, Depends(anyone)]) -> Any:
        return found(bundle_id)

    @router.get(
        "/bundles/{bundle_id}/history",
        response_model=list[HistoryEntry],
        summary="Everything that happened to a bundle: who, when, why",
    )
    def history(bundle_id: BundlePath, caller: Annotated[Caller, Depends(anyone)]) -> Any:
        found(bundle_id)
        return views.history(str(bundle_id))

    @router.get(
        "/bundles/{bundle_id}/churn",
        response_model=Churn,
        summary="Scope churn: requests added and removed after the freeze",
    )
    def churn(bundle_id: BundlePath, caller: Annotated[Caller, Depends(anyone)]) -> Any:
        found(bundle_id)
        return views.churn(str(bundle_id))

    @router.get(
        "/bundles/{bundle_id}/as-of",
        response_model=AsOf,
        summary="The bundle's scope and dates as they stood at a past moment",
    )
    def as_of(
        bundle_id: BundlePath,
        caller: Annotated[Caller, Depends(anyone)],
        at: Annotated[
            LocalInstant | None,
            Query(description="An instant; without an offset it is read in the business zone"),
        ] = None,
        on: Annotated[
            Day | None, Query(description="A date: as the bundle stood at the end of that day")
        ] = None,
    ) -> Any:
        if (at is None) == (on is None):
            raise InvalidCommand("as_of_required", "give exactly one of `at` or `on`")
        current = now()
        if at is None:
            assert on is not None
            today = current.astimezone(zone).date()
            if on > today:
                raise InvalidCommand(
                    "as_of_in_future",
                    f"on={on.isoformat()} is after today ({today.isoformat()} in the business"
                    f" time zone): a bundle's past is known up to today at the latest;"
                    f" GET /api/bundles/{bundle_id} shows it as it stands",
                )
            moment = datetime.combine(on + timedelta(days=1), time(0), zone) - timedelta(
                microseconds=1
            )
        else:
            moment = at if at.tzinfo else at.replace(tzinfo=zone)
            if moment > current:
                raise InvalidCommand(
                    "as_of_in_future",
                    f"at={moment.isoformat()} is later than now ({current.isoformat()}):"
                    f" a bundle's past is known up to now at the latest;"
                    f" GET /api/bundles/{bundle_id} shows it as it stands",
                )
        found(bundle_id)
        answer = views.as_of(str(bundle_id), moment.astimezone(UTC))
        if answer is None:
            raise NotFound(
                "bundle_not_yet_planned", f"bundle {bundle_id} was not planned yet at {moment}"
            )
        return answer


def _bundle_commands(router: APIRouter, auth: Auth, releases: Releases) -> None:
    manager = auth.require(Role.RELEASE_MANAGER)
    it_staff = auth.require(Role.IT_STAFF)

    @router.post(
        "/bundles/{bundle_id}/move",
        response_model=MovedBundle,
        summary="Move a bundle; the answer warns of what the move leaves to be done",
    )
    def move(
        bundle_id: BundlePath, body: MoveIn, caller: Annotated[Caller, Depends(manager)]
    ) -> MovedBundle:
        with caller.acting():
            return releases.move(bundle_id, body.deploy_date, body.reason)

    @router.post("/bundles/{bundle_id}/cancel", response_model=BundleRef, summary="Cancel a bundle")
    def cancel(
        bundle_id: BundlePath, body: CancelIn, caller: Annotated[Caller, Depends(manager)]
    ) -> BundleRef:
        with caller.acting():
            return releases.cancel(bundle_id, body.reason)

    @router.post(
        "/bundles/{bundle_id}/capacity",
        response_model=BundleRef,
        summary="Change a bundle's capacity",
    )
    def capacity(
        bundle_id: BundlePath, body: CapacityIn, caller: Annotated[Caller, Depends(manager)]
    ) -> BundleRef:
        with caller.acting():
            return releases.change_capacity(
                bundle_id, body.capacity_points, body.subsystem_capacity, body.reason
            )

    @router.post(
        "/bundles/{bundle_id}/freeze",
        response_model=BundleRef,
        summary="Freeze the scope now (before its freeze date)",
    )
    def freeze(
        bundle_id: BundlePath, body: FreezeIn, caller: Annotated[Caller, Depends(manager)]
    ) -> BundleRef:
        with caller.acting():
            return releases.freeze(bundle_id, body.note)

    @router.post(
        "/bundles/{bundle_id}/requests",
        response_model=ScopeChange,
        summary="Schedule an accepted request into the bundle",
    )
    def schedule(
        bundle_id: BundlePath, body: ScheduleIn, caller: Annotated[Caller, Depends(manager)]
    ) -> ScopeChange:
        request_id = _uuid(body.request_id, "change_request_not_found", "change request")
        with caller.acting():
            return releases.schedule(bundle_id, request_id, body.reason)

    @router.post(
        "/bundles/{bundle_id}/requests/{request_id}/remove",
        response_model=ScopeChange,
        summary="Take a request out of the bundle",
    )
    def remove(
        bundle_id: BundlePath,
        request_id: RequestPath,
        body: RemoveIn,
        caller: Annotated[Caller, Depends(manager)],
    ) -> ScopeChange:
        with caller.acting():
            return releases.unschedule(bundle_id, request_id, body.reason)

    @router.post(
        "/bundles/{bundle_id}/requests/{request_id}/pull",
        response_model=ScopeChange,
        summary="Pull an item that failed QA out of the bundle",
    )
    def pull(
        bundle_id: BundlePath,
        request_id: RequestPath,
        body: PullIn,
        caller: Annotated[Caller, Depends(manager)],
    ) -> ScopeChange:
        with caller.acting():
            return releases.pull(bundle_id, request_id, body.reason)

    # -- IT staff -------------------------------------------------------------------

    @router.post(
        "/bundles/{bundle_id}/requests/{request_id}/progress",
        response_model=BundleRef,
        summary="Record an item's progress (QA verdicts: the QA team)",
    )
    def progress(
        bundle_id: BundlePath,
        request_id: RequestPath,
        body: ProgressIn,
        caller: Annotated[Caller, Depends(it_staff)],
    ) -> BundleRef:
        with caller.acting():
            return releases.record_progress(
                caller.principal, bundle_id, request_id, Stage(body.stage), body.note
            )

    @router.post(
        "/bundles/{bundle_id}/sign-off",
        response_model=BundleRef,
        summary="QA signs off the bundle (every item passed)",
    )
    def sign_off(
        bundle_id: BundlePath, body: SignOffIn, caller: Annotated[Caller, Depends(it_staff)]
    ) -> BundleRef:
        with caller.acting():
            return releases.sign_off(caller.principal, bundle_id, body.note)
