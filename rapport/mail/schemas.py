from datetime import datetime

from ninja import Schema
from pydantic import ConfigDict


class TemplateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    subject: str | None = None
    body: str | None = None


class TemplateOut(Schema):
    id: int
    name: str
    subject: str
    body: str
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


class AttachmentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    filename: str
    content_type: str | None = None
    content_base64: str


class EmailIn(Schema):
    model_config = ConfigDict(extra="forbid")
    contact_id: int | None = None
    company_id: int | None = None
    template_id: int | None = None
    to: list[str] | None = None
    cc: list[str] | None = None
    subject: str | None = None
    body: str | None = None
    attachments: list[AttachmentIn] | None = None


class AttachmentOut(Schema):
    filename: str
    content_type: str
    size: int


class EmailOut(Schema):
    id: int
    activity_id: int | None
    template_id: int | None
    message_id: str
    from_header: str
    reply_to: str
    to: list[str]
    cc: list[str]
    subject: str
    text_body: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_attachments(obj):
        return list(obj.attachments.all())


class PreviewOut(Schema):
    subject: str
    text: str
    html: str


class MergeFieldsOut(Schema):
    fields: list[str]
    filters: list[str]
