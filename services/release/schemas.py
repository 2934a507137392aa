"""The release HTTP contract's bodies: what clients send (strict: unknown fields are 422)
and what they get back."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from services.release.cadence import DEFAULT_OFFSETS, MAX_INTERVAL_WEEKS, MAX_OFFSET_DAYS
from services.release.trains import MAX_CAPACITY, MAX_HORIZON
from shared.http.models import Day, RequestBody

Reason = Annotated[str, Field(min_length=1, max_length=2_000)]
Note = Annotated[str, Field(default="", max_length=2_000)]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
SubsystemCapacity = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=100)], Annotated[int, Field(ge=1)]],
    Field(default_factory=dict, max_length=50),
]


class Strict(RequestBody):
    """Unknown fields are refused (422): no mass assignment of state."""


class MonthlyCadence(Strict):
    kind: Literal["monthly"]
    weekday: Weekday
    week_of_month: Literal[1, 2, 3, 4, -1] = Field(
        description="1-4, or -1 for the last such weekday of the month"
    )
    start_date: Day = Field(description="The first deployment is on or after this date")


class WeeklyCadence(Strict):
    kind: Literal["every_n_weeks"]
    interval_weeks: int = Field(ge=1, le=MAX_INTERVAL_WEEKS)
    start_date: Day = Field(description="The first deployment date")


class OffsetIn(Strict):
    days: int = Field(
        ge=-MAX_OFFSET_DAYS, le=MAX_OFFSET_DAYS, description="Days from the deployment date"
    )
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local time, HH:MM")


def _default(milestone: str) -> Any:
    return Field(default_factory=lambda: OffsetIn(**DEFAULT_OFFSETS[milestone]))


class OffsetsIn(Strict):
    scope_freeze: OffsetIn = _default("scope_freeze")
    code_complete: OffsetIn = _default("code_complete")
    qa_start: OffsetIn = _default("qa_start")
    window_start: OffsetIn = _default("window_start")
    window_end: OffsetIn = _default("window_end")


class TrainIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    cadence: MonthlyCadence | WeeklyCadence = Field(discriminator="kind")
    milestones: OffsetsIn = Field(default_factory=OffsetsIn)
    capacity_points: int = Field(ge=1, le=MAX_CAPACITY)
    subsystem_capacity: SubsystemCapacity
    timezone: str | None = Field(
        default=None, min_length=1, max_length=64, description="Default: RAILYARD_TIMEZONE"
    )
    generate: int = Field(
        default=3, ge=0, le=MAX_HORIZON, description="How many upcoming bundles to plan now"
    )


class GenerateIn(Strict):
    count: int = Field(default=3, ge=1, le=MAX_HORIZON)


class MoveIn(Strict):
    deploy_date: Day
    reason: Reason


class CancelIn(Strict):
    reason: Reason


class CapacityIn(Strict):
    capacity_points: int = Field(ge=1, le=MAX_CAPACITY)
    subsystem_capacity: SubsystemCapacity
    reason: Note


class FreezeIn(Strict):
    note: Note


class ScheduleIn(Strict):
    request_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{32,36}$")]
    reason: str | None = Field(
        default=None,
        max_length=2_000,
        description="Required after the scope freeze (an exception); over capacity, it is"
        " recorded as the override",
    )


class RemoveIn(Strict):
    reason: str | None = Field(
        default=None, max_length=2_000, description="Required after the scope freeze"
    )


class PullIn(Strict):
    reason: Reason


class ProgressIn(Strict):
    stage: Literal["in_development", "ready_for_qa", "qa_passed", "qa_failed"]
    note: Note


class SignOffIn(Strict):
    note: Note


class PlanItemIn(Strict):
    request_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{32,36}$")]
    bundle_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{32,36}$")]


class ApplyIn(Strict):
    items: list[PlanItemIn] = Field(min_length=1, max_length=500)


class FeedIn(Strict):
    label: str = Field(default="calendar", min_length=1, max_length=100)


class RevokeFeedIn(Strict):
    reason: str = Field(default="revoked", min_length=1, max_length=500)


# -- answers ---------------------------------------------------------------------------


class Train(BaseModel):
    id: str
    name: str
    cadence: dict[str, Any]
    milestones: dict[str, Any]
    capacity_points: int
    subsystem_capacity: dict[str, int]
    timezone: str
    defined_at: str
    defined_by: str


class CapacityWarning(BaseModel):
    scope: str = Field(description="'total' or a subsystem")
    load: int
    capacity: int


class BundleSummary(BaseModel):
    id: str
    train_id: str
    name: str
    slot_date: str
    deploy_date: str
    window_start: str
    window_end: str
    scope_freeze_at: str
    code_complete_at: str
    qa_start_at: str
    status: str
    scope_frozen: bool
    frozen_at: str | None
    capacity_points: int
    subsystem_capacity: dict[str, int]
    load: int
    subsystem_load: dict[str, int]
    capacity_warnings: list[CapacityWarning]
    item_count: int
    added_after_freeze: int
    removed_after_freeze: int
    signed_off_at: str | None
    signed_off_by: str | None
    change_id: str | None
    approved_at: str | None
    deployed_at: str | None
    rolled_back_at: str | None
    cancelled_at: str | None
    closing_reason: str | None
    moves: int
    updated_at: str
    version: int


class TrainDetail(Train):
    describes: str = Field(description="The cadence in words")
    next_dates: list[str] = Field(description="The next deployment dates of the cadence")
    bundles: list[BundleSummary]


class BundleItem(BaseModel):
    request_id: str
    number: int | None
    reference: str = Field(description="REQ-12")
    title: str | None
    department: str | None
    category: str | None
    sponsor: str | None
    owner: str | None
    request_status: str | None
    size_points: int
    subsystems: list[str]
    stage: str
    after_freeze: bool
    over_capacity: bool
    reason: str
    scheduled_at: str
    scheduled_by: str
    stage_at: str | None
    stage_by: str | None
    stage_note: str | None
    fixed_date: str | None = Field(None, description="the date the request was promised for")
    misses_fixed_date: bool = Field(
        False, description="the bundle deploys after the request's fixed date"
    )


class BundleDetail(BundleSummary):
    items: list[BundleItem]


class HistoryEntry(BaseModel):
    position: int
    version: int
    type: str
    actor: str
    occurred_at: str
    summary: str
    data: dict[str, Any]


class ChurnEntry(BaseModel):
    request_id: str
    title: str | None
    kind: Literal["added", "removed"]
    pulled: bool
    reason: str
    actor: str
    occurred_at: str


class Churn(BaseModel):
    bundle_id: str
    added_after_freeze: int
    removed_after_freeze: int
    changes: list[ChurnEntry]


class AsOfItem(BaseModel):
    request_id: str
    title: str | None
    size_points: int
    stage: str
    after_freeze: bool


class AsOf(BaseModel):
    bundle_id: str
    at: str
    version: int
    name: str
    status: str
    scope_frozen: bool
    deploy_date: str
    window_start: str
    window_end: str
    scope_freeze_at: str
    code_complete_at: str
    qa_start_at: str
    capacity_points: int
    load: int
    items: list[AsOfItem]
