"""Custom field definitions, tags and the event log over the API."""

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status
from pydantic import ConfigDict

from rapport.api.responses import page_response
from rapport.api.schemas import ERRORS
from rapport.core import listing, selectors, services
from rapport.core.errors import NotFound, PermissionDenied
from rapport.core.listing import Field, ListSpec
from rapport.core.permissions import is_admin

router = Router(tags=["custom fields, tags and events"])


class CustomFieldOut(Schema):
    id: int
    object_type: str
    key: str
    label: str
    type: str
    options: list[str]
    is_required: bool
    help_text: str
    position: int


class CustomFieldIn(Schema):
    model_config = ConfigDict(extra="forbid")
    object_type: str
    key: str
    label: str
    type: str
    options: list[str] | None = None
    is_required: bool = False
    help_text: str = ""


class CustomFieldPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    label: str | None = None
    options: list[str] | None = None
    is_required: bool | None = None
    help_text: str | None = None


class TagOut(Schema):
    id: int
    name: str
    slug: str
    color: str


class EventOut(Schema):
    id: int
    type: str
    object_type: str
    object_id: int
    actor_id: int | None
    source: str
    data: dict[str, Any]
    created_at: datetime


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


EVENT_LIST = ListSpec(
    object_type="event",
    default_sort="created_at",
    fields={
        "created_at": Field("datetime", sortable=True),
        "object_type": Field("text"), "object_id": Field("int"), "actor_id": Field("ref"),
        "source": Field("text"),
    },
    extra_params=frozenset({"type", "since"}),
)


@router.get("/custom-fields", response={200: list[CustomFieldOut], **ERRORS})
def list_custom_fields(request, object_type: str | None = None):
    return list(selectors.custom_field_list(object_type=object_type))


@router.post("/custom-fields", response={201: CustomFieldOut, **ERRORS})
def create_custom_field(request, payload: CustomFieldIn):
    return Status(201, services.custom_field_create(actor=request.auth, **payload.model_dump()))


@router.patch("/custom-fields/{int:field_id}", response={200: CustomFieldOut, **ERRORS})
def update_custom_field(request, field_id: int, payload: CustomFieldPatch):
    definition = selectors.custom_field_list().filter(pk=field_id).first()
    if definition is None:
        raise NotFound()
    return services.custom_field_update(actor=request.auth, definition=definition,
                                        **payload.model_dump(exclude_unset=True))


@router.delete("/custom-fields/{int:field_id}", response={204: None, **ERRORS})
def delete_custom_field(request, field_id: int):
    definition = selectors.custom_field_list().filter(pk=field_id).first()
    if definition is None:
        raise NotFound()
    services.custom_field_delete(actor=request.auth, definition=definition)
    return Status(204, None)


@router.get("/tags", response={200: list[TagOut], **ERRORS})
def list_tags(request):
    return list(selectors.tag_list())


@router.get("/events", response={200: EventPage, **ERRORS},
            description="The event log, oldest first. `type` takes a name or a pattern "
                        "(`contact.*`), repeatable; `since` an ISO 8601 time. Admins only.")
def list_events(request, type: str | None = None, since: str | None = None,
                limit: str | None = None, cursor: str | None = None):
    if not is_admin(request.auth):
        raise PermissionDenied("Only admins read the event log.")
    query = listing.parse(request.GET, EVENT_LIST)
    queryset = selectors.event_list(
        patterns=request.GET.getlist("type"),
        since=listing.parse_when("since", since) if since else None,
    )
    page = listing.paginate(listing.apply(queryset, query, EVENT_LIST), query, EVENT_LIST)
    return page_response(page, EventOut)
