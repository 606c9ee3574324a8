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
    deal_id: int | None = None
    lead_id: int | None = None
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


class TemplatePage(Schema):
    items: list[TemplateOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class EmailPage(Schema):
    items: list[EmailOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class MailboxIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    host: str | None = None
    port: int | None = None
    security: str | None = None
    username: str | None = None
    password: str | None = None
    folder: str | None = None
    unknown_senders: str | None = None
    # Before unknown_senders: true is "contact" (a mailbox creating leads goes on), false "ignore".
    create_contacts: bool | None = None
    is_active: bool | None = None


class MailboxOut(Schema):
    """A mailbox's settings and sync health. Never its password."""

    id: int
    name: str
    host: str
    port: int
    security: str
    username: str
    folder: str
    unknown_senders: str
    create_contacts: bool  # deprecated: whether unknown_senders creates a record (contact or lead)
    is_active: bool
    owner_id: int | None
    created_at: datetime
    updated_at: datetime
    last_sync_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    messages_fetched: int
    messages_failed: int
    is_syncing: bool


    @staticmethod
    def resolve_create_contacts(mailbox):
        return mailbox.unknown_senders != "ignore"


class MailboxPage(Schema):
    items: list[MailboxOut]
    next_cursor: str | None = None


class InboundAttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    is_kept: bool
    refused_reason: str

    @staticmethod
    def resolve_is_kept(obj):
        return bool(obj.file)


class InboundMessageOut(Schema):
    id: int
    mailbox_id: int | None
    source: str
    message_id: str
    in_reply_to: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    subject: str
    sent_at: datetime | None
    received_at: datetime
    size: int
    is_too_large: bool
    activity_id: int | None
    contact_id: int | None
    replied_to_id: int | None
    thread_root_id: int | None
    problems: list[str]
    attachments: list[InboundAttachmentOut]

    @staticmethod
    def resolve_contact_id(obj):
        return obj.activity.contact_id if obj.activity_id else None

    @staticmethod
    def resolve_attachments(obj):
        return list(obj.attachments.all())


class InboundMessagePage(Schema):
    items: list[InboundMessageOut]
    next_cursor: str | None = None
