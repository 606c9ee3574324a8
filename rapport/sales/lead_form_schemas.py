from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict


class LeadFormFieldOut(Schema):
    field: str
    required: bool


class LeadFormIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    organisation_name: str | None = None
    intro: str | None = None
    # [{"field": "email", "required": true}, ...]; the service checks each item.
    fields: list[Any] | None = None
    lead_source: str | None = None
    lead_tags: list[str] | None = None
    lead_owner_id: int | None = None
    thank_you_message: str | None = None
    redirect_url: str | None = None
    is_active: bool | None = None


class LeadFormOut(Schema):
    id: int
    name: str
    organisation_name: str
    intro: str
    fields: list[LeadFormFieldOut]
    lead_source: str
    lead_tags: list[str]
    lead_owner_id: int | None
    thank_you_message: str
    redirect_url: str
    is_active: bool
    public_key: str
    public_url: str
    embed_code: str
    submission_count: int
    spam_count: int
    last_submitted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_public_url(form):
        return getattr(form, "public_url", "")

    @staticmethod
    def resolve_embed_code(form):
        return getattr(form, "embed_code", "")


class LeadFormPage(Schema):
    items: list[LeadFormOut]
    next_cursor: str | None
