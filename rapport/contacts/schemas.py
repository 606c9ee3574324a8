from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict


class Forbid(Schema):
    model_config = ConfigDict(extra="forbid")


class RecordOut(Schema):
    id: int
    created_at: datetime
    updated_at: datetime
    version: int
    owner_id: int | None
    tags: list[str]
    custom_fields: dict[str, Any]

    @staticmethod
    def resolve_tags(obj):
        return obj.tag_names


class AddressFields(Forbid):
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class CompanyIn(AddressFields):
    name: str | None = None
    domain: str | None = None
    website: str | None = None
    industry: str | None = None
    size: str | None = None
    phone: str | None = None
    description: str | None = None
    linkedin_url: str | None = None
    twitter_url: str | None = None
    external_id: str | None = None
    owner_id: int | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class CompanyOut(RecordOut):
    name: str
    domain: str
    website: str
    industry: str
    size: str
    phone: str
    description: str
    linkedin_url: str
    twitter_url: str
    external_id: str
    street: str
    city: str
    region: str
    postal_code: str
    country: str


class ContactIn(AddressFields):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    emails: list[str] | None = None
    phone: str | None = None
    phones: list[str] | None = None
    title: str | None = None
    lifecycle_stage: str | None = None
    company_id: int | None = None
    website: str | None = None
    linkedin_url: str | None = None
    twitter_url: str | None = None
    external_id: str | None = None
    owner_id: int | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class ContactOut(RecordOut):
    first_name: str
    last_name: str
    email: str
    emails: list[str]
    phone: str
    phones: list[str]
    title: str
    lifecycle_stage: str
    company_id: int | None
    website: str
    linkedin_url: str
    twitter_url: str
    external_id: str
    street: str
    city: str
    region: str
    postal_code: str
    country: str


class BulkContactsIn(Forbid):
    items: list[dict[str, Any]]
    allow_duplicate: bool = False


class BulkItemResult(Schema):
    ok: bool
    id: int | None = None
    error: dict[str, Any] | None = None


class BulkResults(Schema):
    results: list[BulkItemResult]


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class CompanyPage(Schema):
    items: list[CompanyOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class MergeIn(Forbid):
    other_id: int
    fields: dict[str, str] = {}


class MergeRecordOut(Schema):
    id: int
    object_type: str
    survivor_id: int
    merged_id: int
    created_at: datetime
    undone_at: datetime | None
    moved: dict[str, int]

    @staticmethod
    def resolve_moved(merge):
        return {key: len(ids) for key, ids in merge.moved.items()}


class ContactMergeOut(Schema):
    merge: MergeRecordOut
    record: ContactOut


class CompanyMergeOut(Schema):
    merge: MergeRecordOut
    record: CompanyOut


class DuplicateOut(Schema):
    id: int
    object_type: str
    first_id: int
    second_id: int
    score: int
    reasons: list[str]
    status: str
    found_at: datetime


class DuplicatePage(Schema):
    items: list[DuplicateOut]


class ScanIn(Forbid):
    object_type: str = "contact"
