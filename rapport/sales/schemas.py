from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import ConfigDict


class PipelineStageIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    probability: int | None = None
    kind: str | None = None
    rotting_days: int | None = None
    forecast_category: str | None = None


class StageIn(PipelineStageIn):
    position: int | None = None


class StagePatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    probability: int | None = None
    rotting_days: int | None = None
    forecast_category: str | None = None


class StageOut(Schema):
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int
    kind: str
    rotting_days: int | None
    forecast_category: str


class StageOrderIn(Schema):
    model_config = ConfigDict(extra="forbid")
    stage_ids: list[int]


class PipelineIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    is_default: bool | None = None
    stages: list[PipelineStageIn] | None = None


class PipelinePatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    is_default: bool | None = None
    position: int | None = None


class PipelineOut(Schema):
    id: int
    name: str
    position: int
    is_default: bool
    version: int
    created_at: datetime
    updated_at: datetime
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(pipeline):
        return list(pipeline.stages.all())


class PipelinePage(Schema):
    items: list[PipelineOut]
    next_cursor: str | None


class LostReasonIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    active: bool | None = None
    position: int | None = None


class LostReasonOut(Schema):
    id: int
    name: str
    active: bool
    position: int


class LostReasonPage(Schema):
    items: list[LostReasonOut]
    next_cursor: str | None


class DealIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    probability: int | None = None
    expected_close_date: date | None = None
    company_id: int | None = None
    owner_id: int | None = None
    next_step: str | None = None
    forecast_category: str | None = None
    lost_reason_id: int | None = None
    lost_note: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class DealMoveIn(Schema):
    model_config = ConfigDict(extra="forbid")
    stage_id: int | None = None
    status: str | None = None
    lost_reason_id: int | None = None
    lost_note: str | None = None


class DealOut(Schema):
    id: int
    created_at: datetime
    updated_at: datetime
    version: int
    owner_id: int | None
    tags: list[str]
    custom_fields: dict[str, Any]
    name: str
    amount: Decimal
    currency: str
    pipeline_id: int
    stage_id: int
    status: str
    probability: int
    probability_overridden: bool
    weighted_amount: Decimal
    expected_close_date: date | None
    company_id: int | None
    next_step: str
    forecast_category: str
    lost_reason_id: int | None
    lost_note: str
    won_at: datetime | None
    lost_at: datetime | None
    closed_at: datetime | None
    stage_entered_at: datetime
    last_activity_at: datetime | None
    is_stale: bool

    @staticmethod
    def resolve_tags(deal):
        return deal.tag_names

    @staticmethod
    def resolve_probability(deal):
        return deal.effective_probability

    @staticmethod
    def resolve_probability_overridden(deal):
        return deal.probability is not None

    @staticmethod
    def resolve_is_stale(deal):
        return deal.is_stale()


class DealContactIn(Schema):
    model_config = ConfigDict(extra="forbid")
    contact_id: int | None = None
    role: str | None = None


class DealContactPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    role: str | None = None


class DealContactOut(Schema):
    contact_id: int
    role: str
    name: str
    email: str
    added_at: datetime


class DealContactList(Schema):
    items: list[DealContactOut]


class StageStayOut(Schema):
    stage_id: int
    stage_name: str
    entered_at: datetime
    left_at: datetime | None
    user_id: int | None
    seconds: int


class TimeInStageOut(Schema):
    stage_id: int
    seconds: int


class DealDetailOut(DealOut):
    contacts: list[DealContactOut]
    stage_history: list[StageStayOut]
    time_in_stages: list[TimeInStageOut]
    seconds_in_stage: int

    @staticmethod
    def resolve_stage_history(deal):
        return deal.history

    @staticmethod
    def resolve_is_stale(deal):
        return deal.stale


class DealPage(Schema):
    items: list[DealOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class BoardTotalOut(Schema):
    currency: str
    amount: Decimal
    weighted_amount: Decimal


class BoardColumnOut(Schema):
    stage: StageOut
    count: int
    totals: list[BoardTotalOut]
    deals: list[DealOut]
    has_more: bool


class BoardOut(Schema):
    pipeline_id: int
    columns: list[BoardColumnOut]

    @staticmethod
    def resolve_pipeline_id(board):
        return board.pipeline.pk
