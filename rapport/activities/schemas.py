from datetime import date, datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict


class ActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")
    kind: str | None = None
    subject: str | None = None
    body: str | None = None
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None
    lead_id: int | None = None
    occurred_at: str | None = None
    direction: str | None = None
    duration_seconds: int | None = None
    outcome: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    location: str | None = None
    attendees: list[str] | None = None
    email_from: str | None = None
    email_to: list[str] | None = None
    due_date: str | None = None
    priority: str | None = None
    assignee_id: int | None = None
    owner_id: int | None = None
    completed: bool | None = None


class ActivityOut(Schema):
    id: int
    created_at: datetime
    updated_at: datetime
    version: int
    owner_id: int | None
    kind: str
    subject: str
    body: str
    body_html: str
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    lead_id: int | None
    occurred_at: datetime
    direction: str
    duration_seconds: int | None
    outcome: str
    starts_at: datetime | None
    ends_at: datetime | None
    location: str
    attendees: list[str]
    email_from: str
    email_to: list[str]
    due_date: date | None
    priority: str
    assignee_id: int | None
    completed_at: datetime | None
    custom_fields: dict[str, Any]


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None
