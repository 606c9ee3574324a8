"""Recording events: the outbox row is written in the caller's transaction."""

from rapport.core import bulk
from rapport.core.context import current_cause, current_source
from rapport.core.dispatch import request_dispatch
from rapport.core.models import Event


def _with_cause(data: dict | None) -> dict:
    """A rule's writes carry the rule, so rules can refuse to trigger themselves into a loop."""
    cause = current_cause()
    return {**(data or {}), "caused_by": cause} if cause else (data or {})


def record_event(*, type: str, obj=None, actor=None, data: dict | None = None,
                 object_type: str = "", object_id: int | None = None) -> Event:
    event = Event.objects.create(
        type=type,
        object_type=object_type or obj.object_type,
        object_id=object_id if object_id is not None else obj.pk,
        actor=actor if getattr(actor, "pk", None) else None,
        source=current_source(),
        data=_with_cause(data),
    )
    request_dispatch()
    return event


def record_events(events: list[dict]) -> list[int]:
    """Several events in one INSERT, for bulk work (a campaign's sent emails); each
    dict holds record_event's keyword arguments, with object_type and object_id given.
    Returns the events' ids."""
    source = current_source()
    ids = bulk.insert_values(Event, [
        {"type": e["type"], "object_type": e["object_type"], "object_id": e["object_id"],
         "actor_id": getattr(e.get("actor"), "pk", None), "source": source,
         "data": _with_cause(e.get("data"))}
        for e in events])
    if ids:
        request_dispatch()
    return ids


def record_events_of(type: str, object_type: str, object_ids: list[int], *, actor,
                     data: list[str]) -> list[int]:
    """One kind of event for many records (an import's batch of `contact.created`), `data[i]`
    for `object_ids[i]`, given as the JSON text its column stores (bulk.json_text): what they
    share is written once. Returns the events' ids."""
    cause = current_cause()
    if cause:
        cause_text = f'"caused_by":{bulk.json_text(cause)}}}'
        data = [f"{text[:-1]}{',' if text != '{}' else ''}{cause_text}" for text in data]
    ids = bulk.insert_columns(Event, len(object_ids), {"object_id": object_ids, "data": data}, defaults={
        **bulk.new_row_defaults(Event), "type": type, "object_type": object_type,
        "actor_id": getattr(actor, "pk", None), "source": current_source()}, encoded=frozenset({"data"}))
    if ids:
        request_dispatch()
    return ids


def events_for(obj, limit: int = 50):
    return (
        Event.objects.filter(object_type=obj.object_type, object_id=obj.pk)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
