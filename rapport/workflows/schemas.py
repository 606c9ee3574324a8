from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field

from rapport.workflows.spec import OBJECT_TYPES


class RuleIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    object_type: str | None = Field(None, description="What the rule acts on: "
                                                      + ", ".join(OBJECT_TYPES) + ".")
    trigger: dict[str, Any] | None = None
    conditions: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    is_active: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    description: str
    object_type: str
    trigger: dict[str, Any]
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    is_active: bool
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


class RuleTestIn(Schema):
    model_config = ConfigDict(extra="forbid")
    object_id: int


class RunOut(Schema):
    id: int
    rule_id: int
    key: str
    object_type: str
    object_id: int
    status: str
    dry_run: bool
    depth: int
    steps: list[dict[str, Any]]
    error: str
    resume_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
