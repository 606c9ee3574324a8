"""Recording events: the outbox row is written in the caller's transaction."""

from rapport.core.context import current_source
from rapport.core.dispatch import request_dispatch
from rapport.core.models import Event


def record_event(*, type: str, obj=None, actor=None, data: dict | None = None,
                 object_type: str = "", object_id: int | None = None) -> Event:
    event = Event.objects.create(
        type=type,
        object_type=object_type or obj.object_type,
        object_id=object_id if object_id is not None else obj.pk,
        actor=actor if getattr(actor, "pk", None) else None,
        source=current_source(),
        data=data or {},
    )
    request_dispatch()
    return event


def events_for(obj, limit: int = 50):
    return (
        Event.objects.filter(object_type=obj.object_type, object_id=obj.pk)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
