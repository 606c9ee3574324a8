from datetime import datetime

from ninja import Schema
from pydantic import ConfigDict


class WebhookIn(Schema):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    is_active: bool | None = None


class WebhookOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    is_active: bool
    disabled_reason: str
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str


class AttemptOut(Schema):
    attempted_at: datetime
    status_code: int | None
    response_body: str
    error: str
    duration_ms: int


class DeliveryOut(Schema):
    id: int
    event_id: int | None
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    request_body: str
    attempt_log: list[AttemptOut]

    @staticmethod
    def resolve_request_body(obj):
        return obj.body

    @staticmethod
    def resolve_next_attempt_at(obj):
        return obj.next_attempt_at if obj.status == "pending" else None

    @staticmethod
    def resolve_attempt_log(obj):
        return list(obj.attempt_log.all())
