from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import ConfigDict


class LeadIn(Schema):
    model_config = ConfigDict(extra="forbid")
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company_name: str | None = None
    title: str | None = None
    website: str | None = None
    source: str | None = None
    status: str | None = None
    disqualified_reason: str | None = None
    score: int | None = None
    country: str | None = None
    company_size: str | None = None
    owner_id: int | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class LeadOut(Schema):
    id: int
    created_at: datetime
    updated_at: datetime
    version: int
    owner_id: int | None
    tags: list[str]
    custom_fields: dict[str, Any]
    first_name: str
    last_name: str
    email: str
    phone: str
    company_name: str
    title: str
    website: str
    source: str
    status: str
    disqualified_reason: str
    score: int
    country: str
    company_size: str
    converted_at: datetime | None
    converted_contact_id: int | None
    converted_company_id: int | None
    converted_deal_id: int | None

    @staticmethod
    def resolve_tags(lead):
        return lead.tag_names


class LeadPage(Schema):
    items: list[LeadOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class LeadConvertIn(Schema):
    model_config = ConfigDict(extra="forbid")
    create_deal: bool = False
    pipeline_id: int | None = None
    stage_id: int | None = None
    deal_name: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    expected_close_date: date | None = None
    company_id: int | None = None


class LeadConversionOut(Schema):
    lead: LeadOut
    contact_id: int
    contact_created: bool
    company_id: int | None
    company_created: bool
    deal_id: int | None
    activities_moved: int


class ConditionOut(Schema):
    field: str
    op: str
    value: Any = None


class AssignmentRuleIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    active: bool | None = None
    match: str | None = None
    conditions: list[Any] | None = None
    action: str | None = None
    user_id: int | None = None
    team_id: int | None = None
    position: int | None = None


class AssignmentRuleOut(Schema):
    id: int
    name: str
    position: int
    active: bool
    match: str
    conditions: list[ConditionOut]
    action: str
    user_id: int | None
    team_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class AssignmentRulePage(Schema):
    items: list[AssignmentRuleOut]
    next_cursor: str | None


class AssignmentRuleOrderIn(Schema):
    model_config = ConfigDict(extra="forbid")
    rule_ids: list[int]


class LeadSettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")
    fallback_owner_id: int | None = None


class LeadSettingsOut(Schema):
    fallback_owner_id: int | None
    updated_at: datetime
